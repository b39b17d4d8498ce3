import { describe, expect, it } from 'vitest';
import { imageDimensions } from '@vision/wire';
import { parseCameraEntry, resolveCamera } from '../src/camera-spec';
import { ffmpegArgs } from '../src/ffmpeg-args';
import { startFfmpegSource } from '../src/ffmpeg-source';
import { sourceKinds } from '../src/sources/registry';
import type { SourceKindDefinition } from '../src/sources/source-kind';
import { SourceKinds } from '../src/sources/source-kinds';
import { testsrcSource } from '../src/sources/testsrc';

const DEFAULTS = { defaultFps: 5, maxWidth: 1280, maxHeight: 720 };
const FFMPEG = { hwaccel: undefined, jpegQuality: 5, ioTimeoutMs: 4000, record: undefined };
const camera = (url: string, extra = {}) => resolveCamera(parseCameraEntry({ id: 'c', url, ...extra }), DEFAULTS);

/** The message a refused entry gets (its code must be the camera-spec code). */
function refusal(entry: Record<string, unknown>): string {
  try {
    parseCameraEntry({ id: 'c', ...entry });
  } catch (err) {
    expect((err as { code?: string }).code).toBe('E_CAMERA_INVALID');
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(entry)}`);
}

describe('source kinds', () => {
  it('own their URL schemes; a URL no kind owns is refused naming every accepted form', () => {
    expect(camera('testsrc://').kind).toBe('testsrc');
    expect(camera('testsrc://?size=320x180&rate=12.5').kind).toBe('testsrc');
    expect(sourceKinds.urlRule).toBe(
      'must be rtsp://, rtsps://, http(s)://, file://, v4l2:// or testsrc:// (or an absolute file path)',
    );
    for (const url of ['ftp://h/x', 'lavfi://testsrc2', 'clips/relative.mp4', 'not a url'])
      expect(refusal({ url }), url).toBe(`url: ${sourceKinds.urlRule}`);
  });

  it('refuse an unknown kind by name with the camera code, never reading it as another kind', () => {
    expect(sourceKinds.named('testsrc')).toBe(testsrcSource);
    expect(() => sourceKinds.named('ndi')).toThrow(
      expect.objectContaining({ code: 'E_CAMERA_INVALID', message: 'source: unknown source kind "ndi"' }),
    );
    expect(() => ffmpegArgs({ ...camera('/x.mp4'), kind: 'ndi' as 'file' }, FFMPEG)).toThrow(/unknown source kind/);
  });

  it('refuse two kinds that claim one name, one scheme or bare paths', () => {
    const kind = (name: string, schemes: string[], ownsPaths = false): SourceKindDefinition => ({
      kind: name,
      schemes,
      urlForms: schemes.map((s) => `${s}//`),
      ownsPaths,
      ffmpegInput: () => [],
      record: 'copy',
      redact: (url) => url,
    });
    expect(() => new SourceKinds([kind('a', ['a:']), kind('a', ['b:'])])).toThrow(/registered twice/);
    expect(() => new SourceKinds([kind('a', ['a:']), kind('b', ['a:'])])).toThrow(/a: is claimed by two/);
    expect(() => new SourceKinds([kind('a', ['a:'], true), kind('b', ['b:'], true)])).toThrow(/absolute paths/);
    expect(new SourceKinds([kind('a', ['a:']), kind('b', ['b:'])]).urlRule).toBe('must be a:// or b://');
  });

  it("refuse a field another kind owns, and apply each kind's own checks naming the field", () => {
    expect(refusal({ url: '/clips/a.mp4', rtspTransport: 'tcp' })).toBe(
      'rtspTransport: only for rtsp:// and rtsps:// cameras',
    );
    expect(refusal({ url: 'testsrc://', rtspTransport: 'udp' })).toMatch(/^rtspTransport: only for rtsp/);
    const testsrc: [string, RegExp][] = [
      ['testsrc://?size=640', /^url: testsrc:\/\/ size must be WIDTHxHEIGHT, each 16 to 8192$/],
      ['testsrc://?size=8x8', /^url: testsrc:\/\/ size must be/],
      ['testsrc://?size=9000x720', /^url: testsrc:\/\/ size must be/],
      ['testsrc://?rate=0', /^url: testsrc:\/\/ rate must be a number of frames a second above 0, at most 60$/],
      ['testsrc://?rate=61', /^url: testsrc:\/\/ rate must be/],
      ['testsrc://?rate=fast', /^url: testsrc:\/\/ rate must be/],
      ['testsrc://?colour=red', /^url: testsrc:\/\/ takes size and rate only, not "colour"$/],
      ['testsrc://lobby', /^url: must be testsrc:\/\/\?size=WIDTHxHEIGHT&rate=FPS \(no host or path\)$/],
    ];
    for (const [url, message] of testsrc) expect(refusal({ url }), url).toMatch(message);
  });

  it('give the test pattern to ffmpeg at its size and rate, paced in real time, and show its URL as is', () => {
    const args = ffmpegArgs(camera('testsrc://?size=320x180&rate=12.5', { fps: 5 }), FFMPEG);
    expect(args.join(' ')).toContain('-re -f lavfi -i testsrc2=size=320x180:rate=12.5 -map 0:v:0');
    expect(ffmpegArgs(camera('testsrc://'), FFMPEG).join(' ')).toContain('-i testsrc2=size=640x360:rate=25 ');
    expect(sourceKinds.named('testsrc').redact('testsrc://?rate=5')).toBe('testsrc://?rate=5');
    expect(sourceKinds.named('rtsp').redact('rtsp://u:secret@h/x')).toBe('rtsp://***:***@h/x');
    expect(sourceKinds.named('file').stopsAtEnd?.(camera('/x.mp4', { loop: false }))).toBe(true);
    expect(sourceKinds.named('testsrc').stopsAtEnd).toBeUndefined();
  });

  it('run the test pattern through real ffmpeg: JPEGs scaled to the camera, at its rate', async () => {
    const spec = camera('testsrc://?size=320x180&rate=25', { fps: 10, maxWidth: 160, maxHeight: 160 });
    const frames: Buffer[] = [];
    let ended: unknown;
    const source = startFfmpegSource(
      {
        ffmpegPath: 'ffmpeg',
        args: ffmpegArgs(spec, FFMPEG),
        maxFrameBytes: 1 << 20,
        killGraceMs: 2000,
        scrub: String,
      },
      { frame: (jpeg) => frames.push(jpeg), ended: (why) => (ended = why) },
    );
    await new Promise((r) => setTimeout(r, 500)); // ffmpeg's start
    const startCount = frames.length;
    await new Promise((r) => setTimeout(r, 2000));
    const delivered = frames.length - startCount;
    await source.stop();
    expect(ended).toBeUndefined();
    expect(imageDimensions(frames[0])).toEqual({ width: 160, height: 90 });
    // 10 fps over 2 s: paced (without -re the pattern would come as fast as ffmpeg makes it).
    expect(delivered).toBeGreaterThanOrEqual(14);
    expect(delivered).toBeLessThanOrEqual(24);
  });
});
