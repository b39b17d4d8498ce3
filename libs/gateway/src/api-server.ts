import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { hasScope, type Principal, type TokenVerifier } from '@vision/auth';
import { ERROR_CODES, isErrorCode, VisionError, type ErrorCode } from '@vision/wire';
import type { ApplyResult, CameraManager } from './camera-manager';
import { redactText } from './redact';

const SCOPE_READ = 'cameras:read';
const SCOPE_WRITE = 'cameras:write';
/** Camera bodies are a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;
/** A request (headers and body) must arrive within this: a slow client holds no socket forever. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Codes whose message is ours (names a field or a camera) and safe to show; others get the code's fixed text. */
const OWN_MESSAGES = (code: ErrorCode) =>
  code.startsWith('E_CAMERA_') || code === 'E_FORBIDDEN' || code === 'E_BAD_REQUEST';

export interface ApiOptions {
  manager: CameraManager;
  /** Undefined: authentication is off (AUTH_DISABLED=true). */
  verifier: TokenVerifier | undefined;
  log: Logger;
  host: string;
  port: number;
  /** `POST /v1/reload`: re-read the cameras file now; rejects with the file's error, undefined without a file. */
  reload: () => Promise<ApplyResult | undefined>;
}

type Handler = (p: { id: string; body: () => Promise<unknown>; res: ServerResponse }) => Promise<void>;

/**
 * The gateway's HTTP API (docs/cameras.md): bearer JWTs verified like the edges do; listing and
 * snapshots need `cameras:read`, changes `cameras:write`. Errors are `{ error: { code, message } }`.
 */
export function serveApi(o: ApiOptions): Promise<Server> {
  const m = o.manager;
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res
      .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify(body));
  };
  const routes: Record<string, { scope: string; handler: Handler }> = {
    'GET /v1/cameras': { scope: SCOPE_READ, handler: async ({ res }) => json(res, 200, { cameras: m.list() }) },
    'POST /v1/cameras': {
      scope: SCOPE_WRITE,
      handler: async ({ body, res }) => json(res, 201, await m.add(await body())),
    },
    'POST /v1/reload': {
      scope: SCOPE_WRITE,
      handler: async ({ res }) => {
        const applied = await o.reload();
        json(res, 200, { reloaded: applied !== undefined, ...applied, cameras: m.size });
      },
    },
    'GET /v1/cameras/:id': { scope: SCOPE_READ, handler: async ({ id, res }) => json(res, 200, m.runner(id).view()) },
    'PATCH /v1/cameras/:id': {
      scope: SCOPE_WRITE,
      handler: async ({ id, body, res }) => json(res, 200, await m.update(id, await body())),
    },
    'DELETE /v1/cameras/:id': {
      scope: SCOPE_WRITE,
      handler: async ({ id, res }) => {
        await m.remove(id);
        res.writeHead(204).end();
      },
    },
    'POST /v1/cameras/:id/pause': {
      scope: SCOPE_WRITE,
      handler: async ({ id, res }) => json(res, 200, await m.pause(id)),
    },
    'POST /v1/cameras/:id/resume': {
      scope: SCOPE_WRITE,
      handler: async ({ id, res }) => json(res, 200, await m.resume(id)),
    },
    'GET /v1/cameras/:id/snapshot': {
      scope: SCOPE_READ,
      handler: async ({ id, res }) => {
        const f = m.runner(id).lastFrame;
        if (!f) throw new VisionError('E_CAMERA_NO_FRAME', `camera ${id} has no frame yet`);
        res
          .writeHead(200, {
            'content-type': 'image/jpeg',
            'content-length': f.jpeg.length,
            'cache-control': 'no-store',
            'x-frame-id': String(f.frameId),
            'x-capture-ts': String(f.at),
          })
          .end(f.jpeg);
      },
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    const parts = path.split('/').filter(Boolean).map(safeDecode);
    const id = parts[2] ?? '';
    const pattern =
      parts.length >= 3 ? ['', ...parts.slice(0, 2), ':id', ...parts.slice(3)].join('/') : `/${parts.join('/')}`;
    const route = routes[`${req.method} ${pattern}`];
    if (!route) throw new VisionError('E_NO_ROUTE');
    const principal = await authenticate(req, o.verifier);
    if (!hasScope(principal, route.scope, o.verifier !== undefined))
      throw new VisionError('E_FORBIDDEN', `this needs the ${route.scope} scope`);
    await route.handler({ id, res, body: () => readJson(req) });
    if (req.method !== 'GET')
      o.log.info(
        {
          subject: principal.subject,
          method: req.method,
          path: pattern,
          camera: id || undefined,
          status: res.statusCode,
        },
        'camera api',
      );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const code: ErrorCode =
        err instanceof VisionError
          ? err.code
          : isErrorCode((err as { code?: unknown })?.code)
            ? (err as { code: ErrorCode }).code
            : 'E_INTERNAL';
      if (code === 'E_INTERNAL')
        o.log.error({ err: redactText(String((err as Error)?.stack ?? err)) }, 'camera api failed');
      const message = OWN_MESSAGES(code) ? redactText((err as Error).message) : ERROR_CODES[code].message;
      if (!res.headersSent) json(res, ERROR_CODES[code].http, { error: { code, message } });
      else res.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve(server));
  });
}

async function authenticate(req: IncomingMessage, verifier: TokenVerifier | undefined): Promise<Principal> {
  if (!verifier)
    return {
      subject: `ip:${req.socket.remoteAddress ?? 'unknown'}`,
      streams: undefined,
      models: undefined,
      expiresAt: undefined,
      scopes: undefined,
      tokenId: undefined,
    };
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw new VisionError('E_UNAUTHORIZED', 'no bearer token');
  return verifier.verify(m[1]);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        // Refuse now, drain the rest (bounded by the request timeout) so the answer can be read.
        reject(new VisionError('E_BAD_REQUEST', `the body is larger than ${MAX_BODY_BYTES} bytes`));
        req.removeAllListeners('data');
        req.resume();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        reject(new VisionError('E_BAD_REQUEST', 'the body is not JSON'));
      }
    });
    req.on('error', () => reject(new VisionError('E_BAD_REQUEST', 'the request ended early')));
  });
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
