import type { Request, Response } from 'express';
import { answerError } from '@vision/http';
import { toWireError, type WireError } from '@vision/wire';
import type { Gatekeeper, RequestAdmission } from './security/gatekeeper';

/**
 * The frame of every `/v1` HTTP route: the gate's admission (Origin, token, requests per address,
 * the subject's byte rate), then `handle`; whatever it throws is answered from the error table —
 * its status, `WWW-Authenticate` for credentials, `Retry-After` for rate limits, and
 * `Connection: close` when the body was not read to the end (libs/http's `answerError`, as every
 * operator API answers). `onError` sees each error's code.
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
    onError?.(toWireError(err));
    await answerError(req, res, err);
  } finally {
    release?.();
  }
}

/** A query parameter given once as a non-empty string, else undefined. */
export function queryParam(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
