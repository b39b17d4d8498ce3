import { createHmac, timingSafeEqual } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import ipaddr from 'ipaddr.js';
import { VisionError } from '@vision/wire';
import { admitWebhookAddresses, webhookLookup, type WebhookTargetPolicy } from './webhook-target';

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
 * A webhook URL a job or site file may name: http(s) only; with `policy.hosts`, a host it lists
 * (exact, or `*.example.com`); without, no `localhost` name and no literal address inside the site.
 * Names are checked at delivery, where they resolve (`webhookLookup`). Checked when the URL is
 * given, so a bad one is an error the client hears, not a silent failure.
 */
export function checkWebhookUrl(raw: string, policy: Pick<WebhookTargetPolicy, 'hosts' | 'setting'>): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new VisionError('E_BAD_REQUEST', 'webhook is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new VisionError('E_BAD_REQUEST', 'webhook must be http(s)');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const name = host.replace(/\.$/, '');
  if (!policy.hosts.length && (name === 'localhost' || name.endsWith('.localhost')))
    throw new VisionError(
      'E_WEBHOOK_FORBIDDEN',
      `webhook host ${host} is inside the site; list it in ${policy.setting} to allow it`,
    );
  if (ipaddr.isValid(host) || policy.hosts.length) admitWebhookAddresses(host, [host], policy);
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
 * POSTs `body` signed with `secret` to `url` through an agent whose `lookup` admits the addresses
 * it connects to (`webhookLookup`); a literal address, which sockets do not look up, and the
 * allow-list are checked here first. No redirects (one could lead inside the site). Throws
 * `E_WEBHOOK_FORBIDDEN` for a refused target, else unless the receiver answered 2xx within
 * `WEBHOOK_TIMEOUT_MS`.
 */
export async function postSignedWebhook(
  url: string,
  body: string,
  secret: string | readonly string[],
  policy: WebhookTargetPolicy,
): Promise<void> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host) || policy.hosts.length) admitWebhookAddresses(host, [host], policy);
  const https = target.protocol === 'https:';
  const agent = new (https ? HttpsAgent : HttpAgent)({ keepAlive: false, lookup: webhookLookup(policy) });
  const send = https ? httpsRequest : httpRequest;
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = send(
        target,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            [SIGNATURE_HEADER]: signWebhook(secret, body),
          },
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    if (status < 200 || status > 299) throw new Error(`webhook answered ${status}`);
  } finally {
    agent.destroy();
  }
}
