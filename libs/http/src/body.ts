import type { IncomingMessage } from 'node:http';
import { VisionError, type ErrorCode } from '@vision/wire';
import { HttpError } from './http-error';

export interface BodyLimits {
  maxBytes: number;
  /**
   * From the first byte asked for to the last; a client that trickles its body is cut off. Undefined:
   * only the server's `requestTimeout` bounds it (the edge's frames, read at the subject's byte rate).
   */
  timeoutMs?: number;
  /** The code of a body over `maxBytes` (the edge's frames: `E_FRAME_TOO_LARGE`). */
  tooLarge?: ErrorCode;
  /** How long to pause reading after `bytes` more arrived (the edge: the subject's byte rate). */
  throttle?: (bytes: number) => number;
}

/**
 * Reads a whole request body, bounded in bytes (a declared `Content-Length` over the limit is
 * refused before a byte is read) and in time. A refused body is left unread: the error answer
 * (`answerError`) drains it first, so a client still sending hears the answer rather than a reset.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const tooLarge = () =>
    limits.tooLarge
      ? new VisionError(limits.tooLarge)
      : new HttpError('E_BODY_TOO_LARGE', `the body is larger than ${limits.maxBytes} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > limits.maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const timer =
      limits.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => finish(new HttpError('E_BODY_TIMEOUT', `the body did not arrive within ${limits.timeoutMs} ms`)),
            limits.timeoutMs,
          );
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) {
        finish(tooLarge());
        return;
      }
      chunks.push(chunk);
      const wait = limits.throttle?.(chunk.length) ?? 0;
      if (wait > 0) {
        req.pause();
        setTimeout(() => req.resume(), wait).unref();
      }
    };
    const onEnd = () => finish();
    const onError = () => finish(new HttpError('E_BAD_REQUEST', 'the request ended before its body'));
    const onClose = () => !req.complete && onError();
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * A JSON body: `Content-Type: application/json` (else `E_UNSUPPORTED_MEDIA_TYPE`), within the limits,
 * and parseable (else `E_BAD_REQUEST`).
 */
export async function readJsonBody(req: IncomingMessage, limits: BodyLimits & { timeoutMs: number }): Promise<unknown> {
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? ''))
    throw new HttpError('E_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  const body = await readBody(req, limits);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError('E_BAD_REQUEST', 'the body is not JSON');
  }
}

/**
 * Reads and drops the rest of a body until it ends, the socket closes, or `ms` pass: a client still
 * sending when the socket closes gets a reset and loses the answer (HTTP servers' "lingering close").
 */
export function drain(req: IncomingMessage, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      req.off('end', done).off('close', done).off('error', done);
      resolve();
    }
    if (req.complete || req.destroyed) return done();
    req.on('end', done).on('close', done).on('error', done);
    req.unpipe().resume();
  });
}
