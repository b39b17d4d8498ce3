/**
 * Ultralytics stores export facts in ONNX `metadata_props` as Python `str()` of dicts and lists,
 * e.g. names = "{0: 'person', 1: 'traffic light'}" and imgsz = "[640, 640]". These parsers accept
 * exactly that literal syntax (ints and quoted strings) and reject anything else with a message.
 */
export interface UltralyticsMetadata {
  names?: string[];
  imgsz?: [height: number, width: number];
  stride?: number;
  batch?: number;
  task?: string;
  /** Every raw key/value pair, for logging and for keys this version does not interpret. */
  raw: Record<string, string>;
}

export function parseUltralyticsMetadata(props: Record<string, string>): UltralyticsMetadata {
  // Every failure names its key: a refused model says which field of its metadata is wrong.
  const field = <T>(key: string, parse: (text: string) => T): T | undefined => {
    const text = props[key];
    if (text === undefined) return undefined;
    try {
      return parse(text);
    } catch (err) {
      throw new Error(`metadata ${key}: ${(err as Error).message.replace(/^(metadata )?\w+: /, '')}`);
    }
  };
  const meta: UltralyticsMetadata = { raw: { ...props } };
  const names = field('names', parseNamesLiteral);
  const imgsz = field('imgsz', parseImageSize);
  const stride = field('stride', parseIntStrict);
  const batch = field('batch', parseIntStrict);
  if (names !== undefined) meta.names = names;
  if (imgsz !== undefined) meta.imgsz = imgsz;
  if (stride !== undefined) meta.stride = stride;
  if (batch !== undefined) meta.batch = batch;
  if (props['task'] !== undefined) meta.task = props['task'].trim();
  return meta;
}

function parseImageSize(text: string): [height: number, width: number] {
  const v = parsePyLiteral(text);
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number'))
    return [v[0] as number, v[1] as number];
  throw new Error(`expected an int or [h, w], got ${text}`);
}

/** `{0: 'a', 1: 'b'}` (Ultralytics), `['a', 'b']` or a JSON equivalent → dense array; gaps become `class_<i>`. */
export function parseNamesLiteral(text: string): string[] {
  const v = parsePyLiteral(text);
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === 'string')) throw new Error('names: list entries must be strings');
    return v as string[];
  }
  if (v === null || typeof v !== 'object') throw new Error(`names: expected a dict or list, got ${text.slice(0, 80)}`);
  const entries = Object.entries(v);
  let max = -1;
  for (const [k, name] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0) throw new Error(`names: key ${k} is not a class index`);
    if (typeof name !== 'string') throw new Error(`names: value for ${k} is not a string`);
    max = Math.max(max, i);
  }
  const names = Array.from({ length: max + 1 }, (_, i) => `class_${i}`);
  for (const [k, name] of entries) names[Number(k)] = name as string;
  return names;
}

/** Fills missing entries so every class index the model can emit has a name. */
export function completeNames(names: string[] | undefined, classCount: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < classCount; i++) out.push(names?.[i] ?? `class_${i}`);
  return out;
}

function parseIntStrict(text: string): number {
  const n = Number(text.trim());
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got ${text}`);
  return n;
}

type PyValue = number | string | boolean | null | PyValue[] | { [k: string]: PyValue };

/** Parses the subset of Python literal syntax Ultralytics emits (also JSON). */
export function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const s = text;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`cannot parse literal at ${i}: ${what} in ${s.slice(0, 80)}`);
  };
  const value = (): PyValue => {
    ws();
    const c = s[i];
    if (c === '{') return dict();
    if (c === '[' || c === '(') return list(c === '[' ? ']' : ')');
    if (c === "'" || c === '"') return str();
    const m = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|True|False|None|true|false|null)/.exec(s.slice(i));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    if (m[0] === 'True' || m[0] === 'true') return true;
    if (m[0] === 'False' || m[0] === 'false') return false;
    if (m[0] === 'None' || m[0] === 'null') return null;
    return Number(m[0]);
  };
  const str = (): string => {
    const q = s[i++];
    let out = '';
    while (i < s.length && s[i] !== q) {
      if (s[i] === '\\') {
        const e = s[i + 1];
        if (e === 'n') out += '\n';
        else if (e === 't') out += '\t';
        else if (e === 'x') {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 4), 16));
          i += 2;
        } else if (e === 'u') {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 4;
        } else out += e;
        i += 2;
      } else out += s[i++];
    }
    if (s[i] !== q) fail('unterminated string');
    i++;
    return out;
  };
  const list = (close: string): PyValue[] => {
    i++;
    const out: PyValue[] = [];
    ws();
    while (s[i] !== close) {
      out.push(value());
      ws();
      if (s[i] === ',') i++;
      else if (s[i] !== close) fail(`expected , or ${close}`);
      ws();
    }
    i++;
    return out;
  };
  const dict = (): { [k: string]: PyValue } => {
    i++;
    const out: { [k: string]: PyValue } = {};
    ws();
    while (s[i] !== '}') {
      const k = value();
      if (typeof k !== 'string' && typeof k !== 'number') fail('dict key must be a string or number');
      ws();
      if (s[i++] !== ':') fail('expected :');
      out[String(k)] = value();
      ws();
      if (s[i] === ',') i++;
      else if (s[i] !== '}') fail('expected , or }');
      ws();
    }
    i++;
    return out;
  };
  const v = value();
  ws();
  if (i !== s.length) fail('trailing characters');
  return v;
}

/**
 * A names file overriding the model's metadata: a JSON / Python list or `{index: name}` dict, or
 * plain text with one name per line (the `coco.names` convention).
 */
export function parseNamesFile(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return parseNamesLiteral(trimmed);
  return trimmed
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
