import { describe, expect, it } from 'vitest';
import { assignedGateway } from '../src/assignment';
import { parseCameraEntry, parseCamerasFile, resolveCamera } from '../src/camera-spec';
import { classifyExit, ffmpegArgs } from '../src/ffmpeg-args';
import { redactText, redactUrl, scrubberFor } from '../src/redact';

const DEFAULTS = { defaultFps: 5, maxWidth: 1280, maxHeight: 720 };
const SECRET_URL = 'rtsp://admin:p%40ss%3Aw0rd@10.0.0.7:554/h264?channel=1&token=tok-123456&api_key=k3y-999';

describe('camera specifications', () => {
  it('resolve defaults and the source kind of each URL form', () => {
    const kinds = [
      'rtsp://h/x',
      'rtsps://h/x',
      'http://h/x.mjpg',
      'https://h/s.jpg',
      'file:///clips/a.mp4',
      '/clips/a.mp4',
      'v4l2:///dev/video0',
    ].map((url) => resolveCamera(parseCameraEntry({ id: 'c', url }), DEFAULTS).kind);
    expect(kinds).toEqual(['rtsp', 'rtsp', 'http', 'http', 'file', 'file', 'v4l2']);
    expect(resolveCamera(parseCameraEntry({ id: 'a', url: '/x.mp4' }), DEFAULTS)).toEqual({
      id: 'a',
      url: '/x.mp4',
      kind: 'file',
      fps: 5,
      maxWidth: 1280,
      maxHeight: 720,
      model: undefined,
      enabled: true,
      loop: true,
      rtspTransport: 'tcp',
      record: false,
    });
    expect(
      resolveCamera(
        parseCameraEntry({
          id: 'b',
          url: '/x.mp4',
          fps: 12.5,
          maxWidth: 640,
          model: 'coco',
          enabled: false,
          loop: false,
        }),
        DEFAULTS,
      ),
    ).toMatchObject({ fps: 12.5, maxWidth: 640, maxHeight: 720, model: 'coco', enabled: false, loop: false });
  });

  it('refuse bad fields with messages that name the field and never quote the URL', () => {
    const bad: [unknown, RegExp][] = [
      [{ id: 'has space', url: '/x' }, /^id: /],
      [{ id: 'a', url: 'ftp://admin:hunter22@h/x' }, /^url: must be rtsp:\/\//],
      [{ id: 'a', url: '/x', fps: 0 }, /^fps: /],
      [{ id: 'a', url: '/x', fps: 61 }, /^fps: /],
      [{ id: 'a', url: '/x', maxWidth: 10 }, /^maxWidth: /],
      [{ id: 'a', url: '/x', enabled: 'yes' }, /^enabled: /],
      [{ id: 'a', url: '/x', colour: 'red' }, /colour/],
      [{ url: '/x' }, /^id: /],
    ];
    for (const [input, message] of bad) {
      let err: { code?: string; message?: string } = {};
      try {
        parseCameraEntry(input);
      } catch (e) {
        err = e as typeof err;
      }
      expect(err.code, JSON.stringify(input)).toBe('E_CAMERA_INVALID');
      expect(err.message, JSON.stringify(input)).toMatch(message);
      expect(err.message).not.toContain('hunter22');
    }
  });

  it('validate a whole cameras file, naming the entry and field', () => {
    expect(
      parseCamerasFile('{"cameras":[{"id":"a","url":"/x"},{"id":"b","url":"rtsp://h/y","fps":2}]}').map((c) => c.id),
    ).toEqual(['a', 'b']);
    expect(() => parseCamerasFile('{"cameras":[{"id":"a","url":"/x"},{"id":"b","url":"/y","fps":"fast"}]}')).toThrow(
      /cameras\[1\]\.fps: /,
    );
    expect(() => parseCamerasFile('{"cameras":[{"id":"a","url":"/x"},{"id":"a","url":"/y"}]}')).toThrow(
      /cameras\[1\]\.id: duplicate id "a"/,
    );
    expect(() => parseCamerasFile('{"cams":[]}')).toThrow(expect.objectContaining({ code: 'E_CAMERA_INVALID' }));
    expect(() => parseCamerasFile('{"cameras":[')).toThrow(/not JSON/);
  });
});

describe('redaction', () => {
  it('removes user info and credential parameters from URLs, and every form of the secrets from free text', () => {
    const shown = redactUrl(SECRET_URL);
    expect(shown).toBe('rtsp://***:***@10.0.0.7:554/h264?channel=1&token=***&api_key=***');
    expect(redactUrl('http://viewer@cam/stream.mjpg')).toBe('http://***@cam/stream.mjpg');
    expect(redactUrl('/clips/a.mp4')).toBe('/clips/a.mp4');
    const scrub = scrubberFor(SECRET_URL);
    // ffmpeg quotes the URL in its errors, sometimes with the password decoded.
    const said =
      `[rtsp @ 0x1] ${SECRET_URL}: 401 Unauthorized; ` + 'tried user admin with p@ss:w0rd and tok-123456 and k3y-999';
    const clean = scrub(said);
    for (const secret of ['p@ss:w0rd', 'p%40ss%3Aw0rd', 'tok-123456', 'k3y-999']) expect(clean).not.toContain(secret);
    expect(clean).toContain('401 Unauthorized');
    expect(redactText('see rtsp://u:pw@h/x?password=abc&x=1')).toBe('see rtsp://***@h/x?password=***&x=1');
  });
});

describe('assignment over gateways', () => {
  it('is stable, spreads ids over every gateway, and honours an explicit gateway', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 400; i++) counts[assignedGateway({ id: `cam-${i}` }, 4)]++;
    for (const n of counts) expect(n).toBeGreaterThan(60); // 100 expected each
    expect(assignedGateway({ id: 'cam-7' }, 4)).toBe(assignedGateway({ id: 'cam-7' }, 4));
    expect(assignedGateway({ id: 'cam-7', gateway: 2 }, 4)).toBe(2);
    // The documented rule: SHA-256 of the id, first four bytes big-endian, modulo the count.
    expect(assignedGateway({ id: 'lobby' }, 1000)).toBe(parseInt('4b5dc076', 16) % 1000);
  });
});

describe('ffmpeg', () => {
  const spec = (url: string, extra = {}) => resolveCamera(parseCameraEntry({ id: 'c', url, ...extra }), DEFAULTS);
  const opts = { hwaccel: undefined, jpegQuality: 5, ioTimeoutMs: 4000, record: undefined };

  it('reads RTSP over TCP with an I/O timeout, files looped at their rate, V4L2 devices; only scales down', () => {
    const rtsp = ffmpegArgs(spec('rtsp://h/x', { fps: 7 }), opts);
    expect(rtsp.join(' ')).toContain('-rtsp_transport tcp -timeout 4000000');
    expect(rtsp.slice(-11).join(' ')).toBe('-fps_mode vfr -c:v mjpeg -q:v 5 -flush_packets 1 -f mjpeg pipe:1');
    expect(rtsp[rtsp.indexOf('-vf') + 1]).toBe(
      "select='isnan(prev_selected_t)+gt(round(t*7)\\,round(prev_selected_t*7))+lt(t\\,prev_selected_t)'," +
        "scale=w='min(iw,1280)':h='min(ih,720)':force_original_aspect_ratio=decrease:force_divisible_by=2",
    );
    expect(ffmpegArgs(spec('/clips/a b.mp4'), opts).join(' ')).toContain('-stream_loop -1 -re -i file:/clips/a b.mp4');
    expect(ffmpegArgs(spec('/clips/a.mp4', { loop: false }), opts)).not.toContain('-stream_loop');
    expect(ffmpegArgs(spec('v4l2:///dev/video2'), opts).join(' ')).toContain('-f v4l2 -i /dev/video2');
    const snapshot = ffmpegArgs(spec('http://u:p%40ss@h/s.jpg'), opts, 'snapshot').join(' ');
    expect(snapshot).toContain('-re -f image2 -pattern_type none -loop 1 -framerate 5 -i http://u:p%40ss@h/s.jpg');
    expect(snapshot).not.toContain('-rw_timeout'); // image2 refuses it
    // A multipart stream carries no timestamps: frames are timed by their arrival.
    expect(ffmpegArgs(spec('http://h/v.mjpg'), opts, 'mpjpeg').join(' ')).toContain(
      '-rw_timeout 4000000 -use_wallclock_as_timestamps 1 -f mpjpeg -i http://h/v.mjpg',
    );
    expect(ffmpegArgs(spec('http://h/v'), opts, 'auto')).not.toContain('-use_wallclock_as_timestamps');
    expect(ffmpegArgs(spec('rtsp://h/x'), { ...opts, hwaccel: 'cuda' }).slice(4, 6)).toEqual(['-hwaccel', 'cuda']);
  });

  it('reads RTSP over UDP when the camera says so, and rtsps over TCP only', () => {
    expect(ffmpegArgs(spec('rtsp://h/x', { rtspTransport: 'udp' }), opts).join(' ')).toContain(
      '-rtsp_transport udp -timeout 4000000',
    );
    expect(ffmpegArgs(spec('rtsps://h:322/x'), opts).join(' ')).toContain('-rtsp_transport tcp -timeout 4000000');
    expect(ffmpegArgs(spec('rtsps://h:322/x'), opts).join(' ')).toContain('-i rtsps://h:322/x');
    expect(spec('rtsps://h/x', { rtspTransport: 'tcp' }).rtspTransport).toBe('tcp');
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ url: 'rtsps://h/x', rtspTransport: 'udp' }, /^rtspTransport: rtsps:\/\/ cameras stream over TCP only$/],
      [{ url: 'http://h/x.mjpg', rtspTransport: 'tcp' }, /^rtspTransport: only for rtsp:\/\/ and rtsps:\/\//],
      [{ url: 'rtsp://h/x', rtspTransport: 'multicast' }, /^rtspTransport: /],
    ];
    for (const [entry, message] of refused)
      expect(() => parseCameraEntry({ id: 'c', ...entry }), JSON.stringify(entry)).toThrow(message);
  });

  it('turns how a child ended into a stable code', () => {
    const cases: [number | null, string, string][] = [
      [0, '', 'E_CAMERA_ENDED'],
      [1, 'rtsp://***@h/x: Server returned 401 Unauthorized (authorization failed)', 'E_CAMERA_AUTH'],
      [1, '[tcp @ 0x1] Connection to tcp://127.0.0.1:9?timeout=0 failed: Connection refused', 'E_CAMERA_UNREACHABLE'],
      [1, 'file:/nope.mp4: No such file or directory', 'E_CAMERA_UNREACHABLE'],
      [1, 'http://h/page.html: Invalid data found when processing input', 'E_CAMERA_NOT_VIDEO'],
      [1, 'method DESCRIBE failed: 404 Not Found', 'E_CAMERA_NOT_VIDEO'],
      [1, 'method DESCRIBE failed: 503 Service Unavailable', 'E_CAMERA_UNREACHABLE'],
      [
        1,
        'Device creation failed: -1.\nDevice setup failed for decoder on input stream #0:0 : Operation not permitted',
        'E_CAMERA_DECODER',
      ],
      [1, 'something else entirely', 'E_CAMERA_BAD_DATA'],
    ];
    for (const [code, stderr, expected] of cases)
      expect(classifyExit(code, null, `noise\n${stderr}\n`).code, stderr).toBe(expected);
    expect(classifyExit(1, null, 'a\nlast line\n').message).toBe('ffmpeg exited with 1: last line');
  });

  it('record: off by default, one more output of the same child, refused for kinds that cannot copy', () => {
    expect(spec('rtsp://h/x').record).toBe(false);
    expect(ffmpegArgs(spec('rtsp://h/x'), opts).join(' ')).not.toContain('segment');
    const rec = { dir: '/rec', segmentSeconds: 2 };
    const args = ffmpegArgs(spec('rtsp://h/x', { record: true }), { ...opts, record: rec });
    // One input (one RTSP session), two outputs: the JPEG pipe, then the segments as they come.
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    expect(args.join(' ')).toContain('-f mjpeg pipe:1 -map 0:v:0 -c:v copy -an -sn -dn -f segment');
    expect(args.join(' ')).toContain('-segment_format mpegts -segment_time 2 -reset_timestamps 1 -strftime 1');
    expect(args[args.length - 1]).toBe('/rec/c/%s.ts');
    expect(ffmpegArgs({ ...spec('/x.mp4', { record: true }), id: '..' }, { ...opts, record: rec }).pop()).toBe(
      '/rec/%2E./%s.ts',
    );
    expect(() => ffmpegArgs(spec('rtsp://h/x', { record: true }), opts)).toThrow(/GATEWAY_RECORD_DIR/);
    const refused: [string, RegExp][] = [
      ['testsrc://', /^record: testsrc:\/\/ makes raw frames/],
      ['v4l2:///dev/video0', /^record: v4l2:\/\/ devices deliver raw frames/],
      ['http://h/x.mjpg', /^record: http\(s\):\/\/ cameras cannot be recorded/],
    ];
    for (const [url, message] of refused) {
      expect(() => parseCameraEntry({ id: 'c', url, record: true }), url).toThrow(message);
      expect(parseCameraEntry({ id: 'c', url, record: false }).record).toBe(false);
    }
    expect(() => parseCameraEntry({ id: 'c', url: 'rtsp://h/x', record: 'yes' })).toThrow(/^record: /);
  });
});
