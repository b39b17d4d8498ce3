import type { IncomingMessage } from 'node:http';
import { hasScope, type Principal, type TokenVerifier } from '@vision/auth';
import { HttpError } from './http-error';

/** The sub-protocol prefix that carries a token: `bearer.<jwt>` (the only header browser code can set). */
const BEARER_PROTOCOL_PREFIX = 'bearer.';

/**
 * Where a token may come from: `header` (`Authorization: Bearer`) for HTTP requests; `any` adds,
 * in this order, a `bearer.<jwt>` sub-protocol and `?token=`, for WebSocket upgrades from browsers,
 * which cannot set headers. The query form lands in proxies' access logs, so prefer the others.
 */
export type TokenSources = 'header' | 'any';

/** The bearer token of a request, or undefined when it carries none. */
export function bearerToken(req: IncomingMessage, sources: TokenSources): string | undefined {
  const header = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (header) return header[1];
  if (sources === 'header') return undefined;
  for (const offered of (req.headers['sec-websocket-protocol'] ?? '').split(',')) {
    const protocol = offered.trim();
    if (protocol.startsWith(BEARER_PROTOCOL_PREFIX)) return protocol.slice(BEARER_PROTOCOL_PREFIX.length) || undefined;
  }
  const query = (req.url ?? '').indexOf('?');
  return query >= 0 ? new URLSearchParams(req.url!.slice(query + 1)).get('token') || undefined : undefined;
}

/** Who a caller is without authentication (AUTH_DISABLED=true): its address, with no restriction. */
export function anonymousPrincipal(address: string): Principal {
  return {
    subject: `ip:${address}`,
    streams: undefined,
    models: undefined,
    expiresAt: undefined,
    scopes: undefined,
    tokenId: undefined,
  };
}

export interface BearerAuthOptions {
  /** Undefined: authentication is off (AUTH_DISABLED=true) and every caller is anonymous. */
  verifier: TokenVerifier | undefined;
  /** Where the token may come from. */
  sources: TokenSources;
}

/**
 * The operator APIs' authentication: a bearer JWT verified by TokenVerifier and holding `scope`, or
 * without a verifier the caller's address. Refusals are `E_UNAUTHORIZED` or `E_TOKEN_EXPIRED` (401)
 * and `E_FORBIDDEN` (403) naming the missing scope.
 */
export async function authenticate(
  req: IncomingMessage,
  scope: string,
  options: BearerAuthOptions,
): Promise<Principal> {
  if (!options.verifier) return anonymousPrincipal(req.socket.remoteAddress ?? 'unknown');
  const token = bearerToken(req, options.sources);
  if (!token) throw new HttpError('E_UNAUTHORIZED', 'a bearer token is required');
  const principal = await options.verifier.verify(token);
  if (!hasScope(principal, scope, true)) throw new HttpError('E_FORBIDDEN', `the token lacks the ${scope} scope`);
  return principal;
}
