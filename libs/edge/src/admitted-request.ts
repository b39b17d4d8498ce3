import type { Request, Response } from 'express';
import { ERROR_CODES, toWireError, type WireError } from '@vision/wire';
import type { Gatekeeper, RequestAdmission } from './security/gatekeeper';

/**
 * How long a refused request's unread body is read and discarded before the answer goes: a client
 * still sending when the socket closes gets a reset, and with it loses the answer (HTTP servers'
 * "lingering close"). Bounded in time, so a client that never stops sending is cut off anyway.
 */
const LINGER_MS = 2000;

/**
 * The frame of every `/v1` HTTP route: the gate's admission (Origin, token, requests per address,
 * the subject's byte rate), then `handle`; whatever it throws is answered from the error table —
 * its status, `WWW-Authenticate` for credentials, `Retry-After` for rate limits, and
 * `Connection: close` when the body was not read to the end. `onError` sees each error's code.
 */
export async function admittedRequest(
  gate: Gatekeeper,
  req: Request,
  res: Response,
  handle: (admitted: RequestAdmission) => Promise<void>,
  onError?: (wire: WireError) => void,
): Promise<void> {
  let release: (() => void) | undefined;
  try {
    const admitted = await gate.admitRequest(req);
    release = admitted.done;
    await handle(admitted);
  } catch (err) {
    const wire = toWireError(err);
    onError?.(wire);
    // A refused body is not read to the end: say so before the headers go, and do not keep the connection.
    if (!req.complete) {
      res.setHeader('connection', 'close');
      await discardBody(req, LINGER_MS);
    }
    if (wire.code === 'E_UNAUTHORIZED' || wire.code === 'E_TOKEN_EXPIRED') res.setHeader('www-authenticate', 'Bearer');
    if (wire.retryAfterMs !== undefined) res.setHeader('retry-after', String(Math.ceil(wire.retryAfterMs / 1000)));
    res.status(ERROR_CODES[wire.code].http).json({ error: wire });
  } finally {
    release?.();
  }
}

/** Reads and drops the rest of a body until it ends, the socket closes, or `ms` pass. */
function discardBody(req: Request, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      req.off('end', done).off('close', done).off('error', done);
      resolve();
    }
    req.on('end', done).on('close', done).on('error', done);
    if (req.complete || req.destroyed) done();
    else req.unpipe().resume();
  });
}

/** A query parameter given once as a non-empty string, else undefined. */
export function queryParam(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
