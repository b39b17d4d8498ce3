import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { AuthConfig } from '@vision/config';

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
