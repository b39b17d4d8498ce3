import { HttpError } from './http-error';

/** A path's parameters by name (`/v1/cameras/:id` → `{ id }`), percent-decoded. */
export type RouteParams = Readonly<Record<string, string>>;

export type RouteMatch<R> =
  | { kind: 'found'; route: R; params: RouteParams; pattern: string }
  /** The path exists under other methods: answer 405 with them in `Allow`. */
  | { kind: 'method'; allowed: string[] }
  | { kind: 'none' };

interface Entry<R> {
  method: string;
  pattern: string;
  /** A literal segment, or `{ param }` for `:param`. */
  segments: (string | { param: string })[];
  route: R;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Method plus path pattern (`/v1/cameras/:id/snapshot`) to a route. Patterns are checked when added
 * (a leading `/`, named parameters, no pattern twice), so a typo fails at start-up, not on a request.
 * Literal segments win over parameters, whatever the order routes were added in.
 */
export class RouteTable<R> {
  private readonly entries: Entry<R>[] = [];

  add(method: string, pattern: string, route: R): this {
    if (!METHODS.has(method)) throw new Error(`route ${method} ${pattern}: unknown method`);
    if (!pattern.startsWith('/')) throw new Error(`route ${method} ${pattern}: the pattern must start with /`);
    const segments = pattern
      .split('/')
      .filter(Boolean)
      .map((s) => (s.startsWith(':') ? { param: s.slice(1) } : s));
    const names = segments.flatMap((s) => (typeof s === 'string' ? [] : [s.param]));
    if (names.some((n) => !/^[A-Za-z_]\w*$/.test(n)) || new Set(names).size !== names.length)
      throw new Error(`route ${method} ${pattern}: parameters need distinct names`);
    if (this.entries.some((e) => e.method === method && sameShape(e.segments, segments)))
      throw new Error(`route ${method} ${pattern}: added twice`);
    this.entries.push({ method, pattern, segments, route });
    // Most literal segments first, so `/cameras/recent` is found before `/cameras/:id`.
    this.entries.sort((a, b) => literalRank(b.segments) - literalRank(a.segments));
    return this;
  }

  /** Every route, for listings and for building a 405 answer elsewhere (the edge's Nest routes). */
  get routes(): readonly { method: string; pattern: string; route: R }[] {
    return this.entries;
  }

  /** Throws `E_BAD_REQUEST` for a path that is not valid percent-encoding. */
  match(method: string, path: string): RouteMatch<R> {
    const parts = path.split('/').filter(Boolean).map(decodeSegment);
    const allowed: string[] = [];
    for (const entry of this.entries) {
      const params = paramsOf(entry.segments, parts);
      if (!params) continue;
      if (entry.method === method) return { kind: 'found', route: entry.route, params, pattern: entry.pattern };
      if (!allowed.includes(entry.method)) allowed.push(entry.method);
    }
    return allowed.length ? { kind: 'method', allowed } : { kind: 'none' };
  }
}

function paramsOf(segments: Entry<unknown>['segments'], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    if (typeof segment === 'string') {
      if (segment !== parts[i]) return undefined;
    } else params[segment.param] = parts[i];
  }
  return params;
}

function sameShape(a: Entry<unknown>['segments'], b: Entry<unknown>['segments']): boolean {
  return a.length === b.length && a.every((s, i) => (typeof s === 'string' ? s === b[i] : typeof b[i] !== 'string'));
}

function literalRank(segments: Entry<unknown>['segments']): number {
  return segments.filter((s) => typeof s === 'string').length;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError('E_BAD_REQUEST', 'the path is not valid percent-encoding');
  }
}
