import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Principal, TokenVerifier } from '@vision/auth';
import { readJsonBody } from './body';
import { authenticate } from './bearer';
import { answerError, type ErrorReplyOptions } from './error-reply';
import { HttpError } from './http-error';
import type { RouteParams, RouteTable } from './route-table';

/** How long a client has for its request line and headers (node:http's `headersTimeout`). */
const HEADERS_TIMEOUT_MS = 10_000;

/** What a route's handler gets: the request, who sent it, the path's parameters and its JSON body. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: RouteParams;
  principal: Principal;
  /** The request's JSON body, read within the API's limits. */
  body(): Promise<unknown>;
  /** Answers `status` with `body` as JSON. */
  json(status: number, body: unknown): void;
}

export interface OperatorRoute {
  /** The token scope the route needs (`cameras:write`, `events:read`, …). */
  scope: string;
  handle(ctx: RouteContext): Promise<void>;
}

export interface OperatorApiOptions extends ErrorReplyOptions {
  routes: RouteTable<OperatorRoute>;
  /** Undefined: authentication is off (AUTH_DISABLED=true). */
  verifier: TokenVerifier | undefined;
  body: { maxBytes: number; timeoutMs: number };
  /** Errors without a table code (`E_INTERNAL`): their text goes to the log, never to the client. */
  onInternalError(err: unknown, req: IncomingMessage): void;
  /** After a route answered (audit logs). */
  onAnswered?(ctx: RouteContext, pattern: string): void;
}

/**
 * An operator API as a node:http request listener: route (404 `E_NO_ROUTE`, 405
 * `E_METHOD_NOT_ALLOWED` with `Allow`), then the bearer token and the route's scope, then the
 * handler; every error is answered from the wire error table in one shape.
 */
export function operatorApi(options: OperatorApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  if (!(options.body.maxBytes > 0 && options.body.timeoutMs > 0))
    throw new Error('operatorApi: body.maxBytes and body.timeoutMs must be positive');
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://api');
    const match = options.routes.match(req.method ?? 'GET', url.pathname);
    if (match.kind === 'none') throw new HttpError('E_NO_ROUTE', `no route ${url.pathname}`);
    if (match.kind === 'method')
      throw new HttpError('E_METHOD_NOT_ALLOWED', `${url.pathname} takes ${match.allowed.join(', ')}`, {
        headers: { allow: match.allowed.join(', ') },
      });
    const principal = await authenticate(req, match.route.scope, { verifier: options.verifier, sources: 'header' });
    const ctx: RouteContext = {
      req,
      res,
      url,
      params: match.params,
      principal,
      body: () => readJsonBody(req, options.body),
      json: (status, body) =>
        void res
          .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify(body)),
    };
    await match.route.handle(ctx);
    options.onAnswered?.(ctx, match.pattern);
  };
  return (req, res) => {
    handle(req, res).catch(async (err: unknown) => {
      const reply = await answerError(req, res, err, options);
      if (reply.body.error.code === 'E_INTERNAL') options.onInternalError(err, req);
    });
  };
}

export interface ListenOptions {
  host: string;
  port: number;
  /** WebSocket upgrades (the events feed); without it an upgrade is refused by node:http. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/**
 * Listens with `listener`. The whole request, headers included, must arrive within the body time
 * bound plus the time it is given for headers, so a client that never finishes is cut off.
 */
export function listenOperatorApi(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  options: ListenOptions & { body: { timeoutMs: number } },
): Promise<Server> {
  const server = createServer(listener);
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS + options.body.timeoutMs;
  if (options.upgrade) server.on('upgrade', options.upgrade);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
