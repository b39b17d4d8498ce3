import type { IncomingMessage, ServerResponse } from 'node:http';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { ApiError, READ_SCOPE, WRITE_SCOPE, type EventsAuth } from './events-auth';
import type { EventsKeys } from './events-keys';
import type { RulesStore } from './rules-store';
import { RuleError } from './site-rules';

/** A rule body is a few hundred bytes; anything far larger is refused before it is parsed. */
const MAX_BODY_BYTES = 64 * 1024;
/** A body that trickles in slower than this is refused (a slow client holds no socket forever). */
const BODY_TIMEOUT_MS = 10_000;
/** Most events one `GET /v1/events/recent` answers with: the response stays small. */
const MAX_RECENT = 500;

const RULE_STATUS: Record<RuleError['code'], number> = { E_BAD_RULE: 400, E_UNKNOWN_CAMERA: 404, E_UNKNOWN_CLASS: 422 };

export interface ApiDeps {
  redis: Redis;
  keys: EventsKeys;
  store: RulesStore;
  auth: EventsAuth;
  /** The shards a camera's events may be on (one per Redis). */
  shardsOf(camera: string): number[];
  log: Logger;
}

/**
 * The rules and counts API (docs/events.md): `events:read` lists cameras, rules, counts and recent
 * events; `events:write` puts and deletes rules. A token's `streams` claim limits the cameras it
 * sees and changes. Errors are `{ error: { code, message, field? } }`.
 */
export function eventsApi(d: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(d, req, res).catch((err: unknown) => {
      const e =
        err instanceof ApiError
          ? err
          : err instanceof RuleError
            ? new ApiError(RULE_STATUS[err.code], err.code, err.message, err.field)
            : undefined;
      if (!e) d.log.error({ err: (err as Error).message, url: req.url }, 'events API failed');
      const out = e ?? new ApiError(500, 'E_INTERNAL', 'unexpected server error');
      if (!res.headersSent)
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: out }));
      else res.destroy();
    });
  };
}

async function handle(d: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://events');
  let parts: string[];
  try {
    parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new ApiError(400, 'E_BAD_REQUEST', 'the path is not valid percent-encoding');
  }
  const json = (status: number, body: unknown): void =>
    void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (parts[0] !== 'v1' || parts[1] !== 'events') throw new ApiError(404, 'E_NOT_FOUND', 'no such route');
  const write = req.method === 'PUT' || req.method === 'DELETE';
  const p = await d.auth.principal(req, write ? WRITE_SCOPE : READ_SCOPE, url);
  const camera = parts[3];
  if (camera !== undefined && !d.auth.cameraAllowed(p, camera))
    throw new ApiError(403, 'E_FORBIDDEN', `the token does not cover camera ${camera}`);
  const route = `${req.method} ${parts
    .slice(2)
    .map((x, i) => (i === 1 || i === 3 ? ':' : x))
    .join('/')}`;

  switch (route) {
    case 'GET cameras':
      return json(200, {
        cameras: d.store
          .cameras()
          .filter((c) => d.auth.cameraAllowed(p, c))
          .map((c) => ({ camera: c, rules: d.store.rulesFor(c).length })),
      });
    case 'GET recent': {
      const cam = url.searchParams.get('camera');
      if (!cam) throw new ApiError(400, 'E_BAD_REQUEST', 'camera is required', 'camera');
      if (!d.auth.cameraAllowed(p, cam))
        throw new ApiError(403, 'E_FORBIDDEN', `the token does not cover camera ${cam}`);
      const limit = Math.min(MAX_RECENT, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
      const perShard = await Promise.all(
        d.shardsOf(cam).map((s) => d.redis.xrevrange(d.keys.events(s), '+', '-', 'COUNT', limit * 10)),
      );
      // Newest first; a camera moved between Redis shards has events on both.
      const events = perShard
        .flat()
        .filter(([, f]) => f[f.indexOf('camera') + 1] === cam)
        .map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]) as { ts: number })
        .sort((a, b) => b.ts - a.ts)
        .slice(0, limit);
      return json(200, { camera: cam, events });
    }
    case 'GET cameras/:/rules':
      return json(200, { camera, rules: d.store.list(camera) });
    case 'GET cameras/:/counts': {
      const raw = await d.redis.hget(d.keys.counts, camera);
      return json(200, { camera, counts: raw ? (JSON.parse(raw) as unknown) : {} });
    }
    case 'PUT cameras/:/rules/:': {
      const body = await readJson(req);
      const spec =
        body && typeof body === 'object' && !Array.isArray(body)
          ? { ...body, id: (body as { id?: unknown }).id ?? parts[5] }
          : body;
      if ((spec as { id?: unknown } | null)?.id !== parts[5])
        throw new ApiError(400, 'E_BAD_RULE', 'the body id must match the path', 'id');
      const rule = await d.store.putRule(camera, spec);
      d.log.info({ camera, rule: rule.id, subject: p.subject }, 'rule set');
      return json(200, { camera, rule: d.store.list(camera).find((r) => r.id === rule.id) });
    }
    case 'DELETE cameras/:/rules/:': {
      if (d.store.fromSiteFile(camera, parts[5]))
        throw new ApiError(
          409,
          'E_RULE_IN_SITE_FILE',
          `rule ${parts[5]} is defined in the site file; change it there`,
          'rule',
        );
      if (!(await d.store.deleteRule(camera, parts[5])))
        throw new ApiError(404, 'E_NOT_FOUND', `camera ${camera} has no API rule ${parts[5]}`);
      d.log.info({ camera, rule: parts[5], subject: p.subject }, 'rule deleted');
      res.writeHead(204).end();
      return;
    }
    default:
      throw new ApiError(404, 'E_NOT_FOUND', 'no such route');
  }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
      return reject(new ApiError(415, 'E_BAD_REQUEST', 'send application/json'));
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(
      () => (reject(new ApiError(408, 'E_BAD_REQUEST', 'the body took too long')), req.destroy()),
      BODY_TIMEOUT_MS,
    );
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        clearTimeout(timer);
        reject(new ApiError(413, 'E_BAD_REQUEST', `bodies are limited to ${MAX_BODY_BYTES} bytes`));
        // Read and discard the rest (bounded by the timer) so the client hears the 413.
        req.removeAllListeners('data');
        req.resume();
      } else chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new ApiError(400, 'E_BAD_REQUEST', 'the body is not JSON'));
      }
    });
    req.on('error', (err) => (clearTimeout(timer), reject(err)));
  });
}
