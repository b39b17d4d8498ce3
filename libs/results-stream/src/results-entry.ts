import type { Detection } from '@vision/wire';

/** One box: original-image pixels, its score and its class id (`names` maps the id to its name). */
export type DetRow = [x1: number, y1: number, x2: number, y2: number, score: number, classId: number];

/** One camera frame's detections as the results stream carries them (docs/events.md). */
export interface ResultsEntry {
  /** The frame's streamId. */
  camera: string;
  /** The client's frame id. */
  frame: number;
  /** Capture time, epoch ms: the client's captureTs, else the edge's receive time. */
  ts: number;
  model: string;
  /** The decoded image's size, so rules may use normalised coordinates. */
  w: number;
  h: number;
  /** The model's CONF_THRESHOLD: rows scoring below it are the low tier. */
  conf: number;
  dets: DetRow[];
  /** Class id to name, for the ids present in `dets`. */
  names: Record<number, string>;
}

/** Bounds a reader enforces: the stream is shared, and a bad writer must not sink a consumer. */
export const RESULTS_LIMITS = {
  cameraBytes: 255,
  modelChars: 64,
  nameChars: 128,
  maxDetections: 4096,
  maxClasses: 4096,
  detsBytes: 512 * 1024,
  namesBytes: 128 * 1024,
  maxSide: 1_000_000,
} as const;

const MODEL_RE = /^[A-Za-z0-9_.-]+$/;
// Control characters and nothing else: a camera id is whatever UTF-8 the client chose.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Flat field list for `XADD key * ...fields`. */
export function encodeResultsEntry(e: ResultsEntry): string[] {
  const dets = e.dets.map(([x1, y1, x2, y2, s, c]) => [
    round(x1, 2),
    round(y1, 2),
    round(x2, 2),
    round(y2, 2),
    round(s, 3),
    c,
  ]);
  return [
    'camera',
    e.camera,
    'frame',
    String(e.frame),
    'ts',
    String(e.ts),
    'model',
    e.model,
    'w',
    String(e.w),
    'h',
    String(e.h),
    'conf',
    String(e.conf),
    'dets',
    JSON.stringify(dets),
    'names',
    JSON.stringify(e.names),
  ];
}

/**
 * A worker's frame as an entry, or undefined when the frame has no streamId (not a camera).
 * `detections` includes the low tier; `conf` says where the high tier starts.
 */
export function resultsEntryFromDetections(frame: {
  camera: string | undefined;
  frame: number;
  ts: number;
  model: string;
  w: number;
  h: number;
  conf: number;
  detections: readonly Detection[];
}): ResultsEntry | undefined {
  if (frame.camera === undefined || frame.camera === '') return undefined;
  const names: Record<number, string> = {};
  const dets = frame.detections.map((d): DetRow => {
    names[d.class] = d.name;
    return [d.xmin, d.ymin, d.xmax, d.ymax, d.confidence, d.class];
  });
  return {
    camera: frame.camera,
    frame: frame.frame,
    ts: frame.ts,
    model: frame.model,
    w: frame.w,
    h: frame.h,
    conf: frame.conf,
    dets,
    names,
  };
}

export type DecodeResult = { ok: true; entry: ResultsEntry } | { ok: false; reason: string };

/**
 * Parses and validates one stream entry (its flat field list as XREAD returns it). Never throws:
 * a malformed or oversized entry comes back with the reason, so a consumer skips it and goes on.
 */
export function decodeResultsEntry(fields: readonly string[]): DecodeResult {
  try {
    return { ok: true, entry: decode(fields) };
  } catch (err) {
    return { ok: false, reason: err instanceof BadEntry ? err.message : `unparsable: ${(err as Error).message}` };
  }
}

class BadEntry extends Error {}

function decode(fields: readonly string[]): ResultsEntry {
  if (fields.length % 2 !== 0 || fields.length > 64) throw new BadEntry('field list is not key/value pairs');
  const f = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) f.set(fields[i], fields[i + 1]);
  const get = (k: string) => {
    const v = f.get(k);
    if (v === undefined) throw new BadEntry(`${k}: missing`);
    return v;
  };
  const camera = get('camera');
  if (!camera || Buffer.byteLength(camera) > RESULTS_LIMITS.cameraBytes || CONTROL_RE.test(camera))
    throw new BadEntry('camera: empty, too long or has control characters');
  const frame = numberField(get('frame'), 'frame', 0, Number.MAX_SAFE_INTEGER, true);
  const ts = numberField(get('ts'), 'ts', 1, 1e14, false);
  const model = get('model');
  if (model.length > RESULTS_LIMITS.modelChars || !MODEL_RE.test(model)) throw new BadEntry('model: not a model id');
  const w = numberField(get('w'), 'w', 1, RESULTS_LIMITS.maxSide, true);
  const h = numberField(get('h'), 'h', 1, RESULTS_LIMITS.maxSide, true);
  const conf = numberField(get('conf'), 'conf', 0, 1, false);
  const names = parseNames(get('names'));
  const dets = parseDets(get('dets'), names);
  return { camera, frame, ts, model, w, h, conf, dets, names };
}

function numberField(raw: string, name: string, min: number, max: number, integer: boolean): number {
  const v = raw.length <= 32 ? Number(raw) : NaN;
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw new BadEntry(`${name}: not ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  return v;
}

function parseNames(raw: string): Record<number, string> {
  if (raw.length > RESULTS_LIMITS.namesBytes) throw new BadEntry('names: too large');
  const v: unknown = JSON.parse(raw);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadEntry('names: not an object');
  const entries = Object.entries(v);
  if (entries.length > RESULTS_LIMITS.maxClasses) throw new BadEntry('names: too many classes');
  const names: Record<number, string> = {};
  for (const [k, n] of entries) {
    const id = Number(k);
    if (!Number.isInteger(id) || id < 0 || String(id) !== k)
      throw new BadEntry(`names: key ${JSON.stringify(k.slice(0, 16))} is not a class id`);
    if (typeof n !== 'string' || !n || n.length > RESULTS_LIMITS.nameChars || CONTROL_RE.test(n))
      throw new BadEntry(`names.${k}: not a class name`);
    names[id] = n;
  }
  return names;
}

function parseDets(raw: string, names: Record<number, string>): DetRow[] {
  if (raw.length > RESULTS_LIMITS.detsBytes) throw new BadEntry('dets: too large');
  const v: unknown = JSON.parse(raw);
  if (!Array.isArray(v)) throw new BadEntry('dets: not an array');
  if (v.length > RESULTS_LIMITS.maxDetections) throw new BadEntry('dets: too many rows');
  return v.map((row: unknown, i): DetRow => {
    if (!Array.isArray(row) || row.length !== 6 || !row.every((x) => typeof x === 'number' && Number.isFinite(x)))
      throw new BadEntry(`dets[${i}]: not six numbers`);
    const [x1, y1, x2, y2, s, c] = row as DetRow;
    if (x2 < x1 || y2 < y1) throw new BadEntry(`dets[${i}]: box corners out of order`);
    if (s < 0 || s > 1) throw new BadEntry(`dets[${i}]: score outside [0, 1]`);
    if (!Number.isInteger(c) || names[c] === undefined) throw new BadEntry(`dets[${i}]: class ${c} has no name`);
    return [x1, y1, x2, y2, s, c];
  });
}
