import { createHmac, timingSafeEqual } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { VisionError } from '@vision/wire';

/**
 * Header carrying `t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, like Stripe's: the timestamp stops
 * replays. During a secret rotation there is one `v1=` per secret (current first), so a receiver
 * that knows either secret accepts the webhook.
 */
const SIGNATURE_HEADER = 'x-vision-signature';

/** `secrets`: the current secret, then during a rotation the previous one. */
export function signWebhook(
  secrets: string | readonly string[],
  body: string,
  nowS = Math.floor(Date.now() / 1000),
): string {
  const macs = [secrets].flat().map((secret) => createHmac('sha256', secret).update(`${nowS}.${body}`).digest('hex'));
  return [`t=${nowS}`, ...macs.map((mac) => `v1=${mac}`)].join(',');
}

/** For receivers (and tests): true if one of the header's `v1=` signs `body` with `secret` within `toleranceS`. */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  toleranceS = 300,
  nowS = Math.floor(Date.now() / 1000),
): boolean {
  const parts = header.split(',').map((p) => p.split('=', 2) as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isFinite(t) || Math.abs(nowS - t) > toleranceS) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return parts.some(([k, v]) => {
    const got = Buffer.from(k === 'v1' ? (v ?? '') : '');
    return want.length === got.length && timingSafeEqual(want, got);
  });
}

/**
 * A webhook URL a job may name: http(s) only, and, when `hosts` is set, a host it allows (exact, or
 * `*.example.com`). Without `hosts`, addresses inside the site (loopback, private, link-local such
 * as a cloud metadata service) are refused: a webhook is a request the workers make for a client.
 * Checked when the job is submitted, so a bad URL is an error, not a silent failure.
 */
export function checkWebhookUrl(raw: string, hosts: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new VisionError('E_BAD_REQUEST', 'webhook is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new VisionError('E_BAD_REQUEST', 'webhook must be http(s)');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (hosts.length) {
    if (!hosts.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h)))
      throw new VisionError('E_FORBIDDEN', `webhook host ${host} not in BULK_WEBHOOK_HOSTS`);
  } else if (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    (ipaddr.isValid(host) && ipaddr.process(host).range() !== 'unicast')
  ) {
    throw new VisionError(
      'E_FORBIDDEN',
      `webhook host ${host} is inside the site; list it in BULK_WEBHOOK_HOSTS to allow it`,
    );
  }
  return url.toString();
}

/** A webhook answer slower than this counts as a failed attempt. */
const WEBHOOK_TIMEOUT_MS = 5000;

/**
 * How often a delivery is attempted and how long between attempts (BullMQ's exponential backoff:
 * 1 s, 2 s, 4 s, …). Bulk-job and site-event webhooks share it.
 */
export const WEBHOOK_RETRY = { attempts: 6, backoff: { type: 'exponential' as const, delay: 1000 } };

/**
 * POSTs `body` signed with `secret` to `url` (no redirects: a redirect could lead inside the site).
 * Throws unless the receiver answered 2xx within `WEBHOOK_TIMEOUT_MS`.
 */
export async function postSignedWebhook(url: string, body: string, secret: string | readonly string[]): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(secret, body) },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`webhook answered ${res.status}`);
}
