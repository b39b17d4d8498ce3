import type { IncomingMessage, ServerResponse } from 'node:http';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { HttpError, operatorApi, RouteTable, type OperatorRoute, type RouteContext } from '@vision/http';
import type { EventsConfig } from '@vision/config';
import type { ErrorCode } from '@vision/wire';
import { clipRoute } from './clip-route';
import { snapshotRoute } from './snapshot-route';
import { READ_SCOPE, WRITE_SCOPE, type EventsAuth } from './events-auth';
import type { EventsKeys } from './events-keys';
import type { RulesStore } from './rules-store';
import type { SnapshotStore } from '@vision/evidence';

/** A rule body is a few hundred bytes; a body that trickles in holds no socket forever. */
const EVENTS_BODY_LIMITS = { maxBytes: 64 * 1024, timeoutMs: 10_000 };
/** Most events one `GET /v1/events/recent` answers with: the response stays small. */
const MAX_RECENT = 500;
/** A refused rule's message names the field and what is wrong with it: ours, and safe to show. */
const RULE_CODES = new Set<ErrorCode>(['E_BAD_RULE', 'E_UNKNOWN_CAMERA', 'E_UNKNOWN_CLASS']);

export interface ApiDeps {
  redis: Redis;
  keys: EventsKeys;
  store: RulesStore;
  auth: EventsAuth;
  /** The shards a camera's events may be on (one per Redis). */
  shardsOf(camera: string): number[];
  log: Logger;
  /** Where snapshots are (EVENTS_SNAPSHOT_DIR); undefined: snapshots are off. */
  snapshots?: SnapshotStore;
  /** Clips of recorded cameras (EVENTS_RECORD_DIR). */
  clip: EventsConfig['clip'];
}

/**
 * The rules and counts API (docs/events.md) on the operator toolkit (libs/http): `events:read`
 * lists cameras, rules, counts and recent events; `events:write` puts and deletes rules. A token's
 * `streams` claim limits the cameras it sees and changes.
 */
export function eventsApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return operatorApi({
    routes: eventsRoutes(deps),
    verifier: deps.auth.verifier,
    body: EVENTS_BODY_LIMITS,
    exposeMessage: (code) => RULE_CODES.has(code),
    onInternalError: (err, req) => deps.log.error({ err: (err as Error)?.message, url: req.url }, 'events API failed'),
  });
}

function eventsRoutes(deps: ApiDeps): RouteTable<OperatorRoute> {
  const { store, auth } = deps;
  /** A route on one camera: the token's `streams` claim must cover it. */
  const onCamera =
    (handle: (ctx: RouteContext, camera: string) => Promise<void>) =>
    (ctx: RouteContext): Promise<void> => {
      const camera = ctx.params['camera'];
      if (!auth.cameraAllowed(ctx.principal, camera))
        throw new HttpError('E_FORBIDDEN', `the token does not cover camera ${camera}`);
      return handle(ctx, camera);
    };
  return new RouteTable<OperatorRoute>()
    .add('GET', '/v1/events/cameras', {
      scope: READ_SCOPE,
      handle: async ({ principal, json }) =>
        json(200, {
          cameras: store
            .cameras()
            .filter((c) => auth.cameraAllowed(principal, c))
            .map((c) => ({ camera: c, rules: store.rulesFor(c).length })),
        }),
    })
    .add('GET', '/v1/events/recent', { scope: READ_SCOPE, handle: (ctx) => recent(deps, ctx) })
    .add('GET', '/v1/events/:id/snapshot', { scope: READ_SCOPE, handle: (ctx) => snapshotRoute(deps, ctx) })
    .add('GET', '/v1/events/:id/clip', { scope: READ_SCOPE, handle: clipRoute(deps) })
    .add('GET', '/v1/events/cameras/:camera/rules', {
      scope: READ_SCOPE,
      handle: onCamera(async ({ json }, camera) => json(200, { camera, rules: store.list(camera) })),
    })
    .add('GET', '/v1/events/cameras/:camera/counts', {
      scope: READ_SCOPE,
      handle: onCamera(async ({ json }, camera) => {
        const raw = await deps.redis.hget(deps.keys.counts, camera);
        json(200, { camera, counts: raw ? (JSON.parse(raw) as unknown) : {} });
      }),
    })
    .add('PUT', '/v1/events/cameras/:camera/rules/:rule', {
      scope: WRITE_SCOPE,
      handle: onCamera(async ({ params, principal, body, json }, camera) => {
        const sent = await body();
        const spec =
          sent && typeof sent === 'object' && !Array.isArray(sent)
            ? { ...sent, id: (sent as { id?: unknown }).id ?? params['rule'] }
            : sent;
        if ((spec as { id?: unknown } | null)?.id !== params['rule'])
          throw new HttpError('E_BAD_RULE', 'the body id must match the path', { field: 'id' });
        const rule = await store.putRule(camera, spec);
        deps.log.info({ camera, rule: rule.id, subject: principal.subject }, 'rule set');
        json(200, { camera, rule: store.list(camera).find((r) => r.id === rule.id) });
      }),
    })
    .add('DELETE', '/v1/events/cameras/:camera/rules/:rule', {
      scope: WRITE_SCOPE,
      handle: onCamera(async ({ params, principal, res }, camera) => {
        const rule = params['rule'];
        if (store.fromSiteFile(camera, rule))
          throw new HttpError('E_RULE_IN_SITE_FILE', `rule ${rule} is defined in the site file; change it there`, {
            field: 'rule',
          });
        if (!(await store.deleteRule(camera, rule)))
          throw new HttpError('E_NOT_FOUND', `camera ${camera} has no API rule ${rule}`);
        deps.log.info({ camera, rule, subject: principal.subject }, 'rule deleted');
        res.writeHead(204).end();
      }),
    });
}

/** `GET /v1/events/recent?camera=&limit=`: newest first, from every shard the camera's events may be on. */
async function recent(deps: ApiDeps, { url, principal, json }: RouteContext): Promise<void> {
  const camera = url.searchParams.get('camera');
  if (!camera) throw new HttpError('E_BAD_REQUEST', 'camera is required', { field: 'camera' });
  if (!deps.auth.cameraAllowed(principal, camera))
    throw new HttpError('E_FORBIDDEN', `the token does not cover camera ${camera}`);
  const limit = Math.min(MAX_RECENT, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
  const perShard = await Promise.all(
    deps.shardsOf(camera).map((s) => deps.redis.xrevrange(deps.keys.events(s), '+', '-', 'COUNT', limit * 10)),
  );
  // A camera moved between Redis shards has events on both.
  const events = perShard
    .flat()
    .filter(([, f]) => f[f.indexOf('camera') + 1] === camera)
    .map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]) as { ts: number })
    .sort((a, b) => b.ts - a.ts)
    .slice(0, limit);
  json(200, { camera, events });
}
