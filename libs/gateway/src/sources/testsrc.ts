import { VisionError } from '@vision/wire';
import { shownAsIs, type SourceKindDefinition } from './source-kind';

const DEFAULT_SIZE = '640x360';
const DEFAULT_RATE = '25';
const SIZE = /^(\d{1,4})x(\d{1,4})$/;
const RATE = /^\d{1,2}(\.\d{1,3})?$/;
const FORM = 'testsrc://?size=WIDTHxHEIGHT&rate=FPS';

/** The pattern a `testsrc://` URL asks for, or why it is refused. */
function patternOf(url: string): { size: string; rate: string } | { refused: string } {
  const parsed = new URL(url);
  if (parsed.host || parsed.pathname || parsed.hash) return { refused: `must be ${FORM} (no host or path)` };
  const unknown = [...parsed.searchParams.keys()].find((name) => name !== 'size' && name !== 'rate');
  if (unknown !== undefined) return { refused: `testsrc:// takes size and rate only, not "${unknown.slice(0, 32)}"` };
  const size = parsed.searchParams.get('size') ?? DEFAULT_SIZE;
  const rate = parsed.searchParams.get('rate') ?? DEFAULT_RATE;
  const dims = SIZE.exec(size);
  if (!dims || [dims[1], dims[2]].some((d) => Number(d) < 16 || Number(d) > 8192))
    return { refused: 'testsrc:// size must be WIDTHxHEIGHT, each 16 to 8192' };
  if (!RATE.test(rate) || Number(rate) <= 0 || Number(rate) > 60)
    return { refused: 'testsrc:// rate must be a number of frames a second above 0, at most 60' };
  return { size, rate };
}

/**
 * A synthetic camera: ffmpeg's `testsrc2` pattern (moving, with a frame counter) at the URL's size
 * and rate, paced in real time. Cameras for benches and demos without a clip or a device.
 */
export const testsrcSource: SourceKindDefinition<'testsrc'> = {
  kind: 'testsrc',
  schemes: ['testsrc:'],
  urlForms: ['testsrc://'],
  validate(entry) {
    const pattern = patternOf(entry.url);
    return 'refused' in pattern ? [{ field: 'url', message: pattern.refused }] : [];
  },
  ffmpegInput(spec) {
    const pattern = patternOf(spec.url);
    if ('refused' in pattern) throw new VisionError('E_CAMERA_INVALID', `url: ${pattern.refused}`);
    // -re: lavfi generates as fast as it can; a camera delivers at its own rate.
    return ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${pattern.size}:rate=${pattern.rate}`];
  },
  record: { refused: 'testsrc:// makes raw frames: recording them would mean encoding (not supported)' },
  redact: shownAsIs,
};
