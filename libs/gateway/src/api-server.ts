import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { TokenVerifier } from '@vision/auth';
import { HttpError, listenOperatorApi, operatorApi, RouteTable, type OperatorRoute } from '@vision/http';
import type { ErrorCode } from '@vision/wire';
import type { ApplyResult, CameraManager } from './camera-manager';
import { redactText } from './redact';

const SCOPE_READ = 'cameras:read';
const SCOPE_WRITE = 'cameras:write';
/** Camera bodies are a few hundred bytes; a body that trickles in holds no socket forever. */
const BODY_LIMITS = { maxBytes: 64 * 1024, timeoutMs: 10_000 };
/** Camera errors' messages are ours (they name a field or a camera) and safe to show, redacted. */
const CAMERA_MESSAGES = (code: ErrorCode) => code.startsWith('E_CAMERA_');

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

/**
 * The gateway's HTTP API (docs/cameras.md) on the operator toolkit (libs/http): bearer JWTs verified
 * like the edges do; listing and snapshots need `cameras:read`, changes `cameras:write`.
 */
export function serveApi(options: ApiOptions): Promise<Server> {
  const listener = operatorApi({
    routes: cameraRoutes(options),
    verifier: options.verifier,
    body: BODY_LIMITS,
    exposeMessage: CAMERA_MESSAGES,
    redact: redactText,
    onInternalError: (err) =>
      options.log.error({ err: redactText(String((err as Error)?.stack ?? err)) }, 'camera api failed'),
    onAnswered: ({ req, res, params, principal }, pattern) => {
      if (req.method !== 'GET')
        options.log.info(
          {
            subject: principal.subject,
            method: req.method,
            path: pattern,
            camera: params['id'],
            status: res.statusCode,
          },
          'camera api',
        );
    },
  });
  return listenOperatorApi(listener, { host: options.host, port: options.port, body: BODY_LIMITS });
}

function cameraRoutes({ manager, reload }: ApiOptions): RouteTable<OperatorRoute> {
  const read = (handle: OperatorRoute['handle']): OperatorRoute => ({ scope: SCOPE_READ, handle });
  const write = (handle: OperatorRoute['handle']): OperatorRoute => ({ scope: SCOPE_WRITE, handle });
  return new RouteTable<OperatorRoute>()
    .add(
      'GET',
      '/v1/cameras',
      read(async ({ json }) => json(200, { cameras: manager.list() })),
    )
    .add(
      'POST',
      '/v1/cameras',
      write(async ({ body, json }) => json(201, await manager.add(await body()))),
    )
    .add(
      'POST',
      '/v1/reload',
      write(async ({ json }) => {
        const applied = await reload();
        json(200, { reloaded: applied !== undefined, ...applied, cameras: manager.size });
      }),
    )
    .add(
      'GET',
      '/v1/cameras/:id',
      read(async ({ params, json }) => json(200, manager.runner(params['id']).view())),
    )
    .add(
      'PATCH',
      '/v1/cameras/:id',
      write(async ({ params, body, json }) => json(200, await manager.update(params['id'], await body()))),
    )
    .add(
      'DELETE',
      '/v1/cameras/:id',
      write(async ({ params, res }) => {
        await manager.remove(params['id']);
        res.writeHead(204).end();
      }),
    )
    .add(
      'POST',
      '/v1/cameras/:id/pause',
      write(async ({ params, json }) => json(200, await manager.pause(params['id']))),
    )
    .add(
      'POST',
      '/v1/cameras/:id/resume',
      write(async ({ params, json }) => json(200, await manager.resume(params['id']))),
    )
    .add(
      'GET',
      '/v1/cameras/:id/snapshot',
      read(async ({ params, res }) => {
        const frame = manager.runner(params['id']).lastFrame;
        if (!frame) throw new HttpError('E_CAMERA_NO_FRAME', `camera ${params['id']} has no frame yet`);
        res
          .writeHead(200, {
            'content-type': 'image/jpeg',
            'content-length': frame.jpeg.length,
            'cache-control': 'no-store',
            'x-frame-id': String(frame.frameId),
            'x-capture-ts': String(frame.at),
          })
          .end(frame.jpeg);
      }),
    );
}
