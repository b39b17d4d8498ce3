import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { AuthConfig } from '@vision/config';

/** The sub-protocol prefix that carries a token: `bearer.<jwt>` (the only header browser code can set). */
const BEARER_PROTOCOL_PREFIX = 'bearer.';

/**
 * The bearer token of a request, from (in order) `Authorization: Bearer`, a `bearer.<jwt>`
 * sub-protocol, or `?token=`. The query form lands in proxies' access logs (never in ours: the
 * edge logs no request URLs), so prefer the others.
 */
export function requestToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth && /^bearer /i.test(auth)) return auth.slice(7).trim() || undefined;
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols) {
    for (const p of protocols.split(',')) {
      const t = p.trim();
      if (t.startsWith(BEARER_PROTOCOL_PREFIX)) return t.slice(BEARER_PROTOCOL_PREFIX.length) || undefined;
    }
  }
  const q = (req.url ?? '').indexOf('?');
  if (q >= 0) return new URLSearchParams(req.url!.slice(q + 1)).get('token') || undefined;
  return undefined;
}

/**
 * Client addresses: the peer, or the first untrusted hop of `X-Forwarded-For` when the peer is a
 * configured trusted proxy (proxy-addr's rules; a spoofed header from anyone else is ignored).
 */
export function clientAddress(trustedProxies: string[]): (req: IncomingMessage) => string {
  const trust = proxyaddr.compile(trustedProxies);
  return (req) => normalize(proxyaddr(req, trust));
}

function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * Origin allow-list: exact origins, `*` for any, and always the edge's own origin (its demo page).
 * No `Origin` header means a non-browser client, allowed by ALLOW_NO_ORIGIN.
 */
export function originAllowed(
  cfg: Pick<AuthConfig, 'allowedOrigins' | 'allowNoOrigin'>,
  req: IncomingMessage,
): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return cfg.allowNoOrigin;
  if (cfg.allowedOrigins.includes('*') || cfg.allowedOrigins.includes(origin)) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}
