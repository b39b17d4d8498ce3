import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES, toWireError, type ErrorCode, type WireError } from '@vision/wire';
import { drain } from './body';
import { HttpError } from './http-error';

/** How long a refused request's unread body is read and dropped before the answer goes. */
const LINGER_MS = 2000;

/** The body every HTTP API answers an error with. */
export interface ErrorBody {
  error: WireError & { field?: string };
}

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

export interface ErrorReplyOptions {
  /**
   * Codes whose messages (not only HttpError's) are ours and safe to show, such as a camera error
   * naming the field it concerns. Others get the table's fixed message.
   */
  exposeMessage?: (code: ErrorCode) => boolean;
  /** Applied to every message shown (a camera URL's credentials, say). */
  redact?: (text: string) => string;
}

/**
 * Whatever an API throws, as the table says to answer it: the code's status and `{ error: { code,
 * message, field?, retryAfterMs? } }`, `WWW-Authenticate` for credentials and `Retry-After` for rate
 * limits. Anything without a table code is `E_INTERNAL`, and never shows its text.
 */
export function errorReply(err: unknown, options: ErrorReplyOptions = {}): ErrorReply {
  const wire = toWireError(err);
  const code = wire.code;
  const own = err instanceof HttpError || (code !== 'E_INTERNAL' && options.exposeMessage?.(code) === true);
  const message = own ? (options.redact ?? String)((err as Error).message) : wire.message;
  const field = (err as { field?: unknown } | null)?.field;
  const headers: Record<string, string> = { ...(err instanceof HttpError ? err.headers : {}) };
  if (ERROR_CODES[code].http === 401) headers['www-authenticate'] = 'Bearer';
  if (wire.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(wire.retryAfterMs / 1000));
  return {
    status: ERROR_CODES[code].http,
    headers,
    body: { error: { ...wire, message, ...(own && typeof field === 'string' ? { field } : {}) } },
  };
}

/**
 * Answers `err` on a node:http (or Express) response, from the table. A body not read to the end
 * (refused before or while it was read) is drained first, bounded in time, and the connection is
 * not kept: its unread rest must not be taken for the next request. A body that timed out is not
 * waited for again. Once the headers are out there is nothing to answer with: the socket is closed.
 */
export async function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  options: ErrorReplyOptions = {},
): Promise<ErrorReply> {
  const reply = errorReply(err, options);
  const close = !req.complete;
  if (close && reply.body.error.code !== 'E_BODY_TIMEOUT') await drain(req, LINGER_MS);
  if (res.headersSent) {
    res.destroy();
    return reply;
  }
  const body = JSON.stringify(reply.body);
  res
    .writeHead(reply.status, {
      ...reply.headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      ...(close ? { connection: 'close' } : {}),
    })
    .end(body);
  return reply;
}

/** Refuses an HTTP upgrade on its raw socket with the same status, headers and body. */
export function refuseUpgrade(socket: Duplex, reply: ErrorReply): void {
  const body = JSON.stringify(reply.body);
  const lines = Object.entries({
    ...reply.headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  }).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(`HTTP/1.1 ${reply.status} ${STATUS_TEXT[reply.status] ?? 'Refused'}\r\n${lines.join('')}\r\n${body}`);
}

const STATUS_TEXT: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
