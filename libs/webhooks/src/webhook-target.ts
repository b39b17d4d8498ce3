import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { VisionError } from '@vision/wire';

/** Every address a host name resolves to (both families), in the resolver's order. */
export type WebhookResolver = (host: string) => Promise<LookupAddress[]>;

/** Where webhooks may go, and how names become addresses. */
export interface WebhookTargetPolicy {
  /**
   * Hosts the operator allows (exact, or `*.example.com`), at any address, inside the site too.
   * Empty: any host whose every address is outside the site.
   */
  hosts: readonly string[];
  /** The system resolver (`dns.lookup`, as `fetch` and `http` use) unless given: tests map names. */
  resolve?: WebhookResolver;
  /** The setting that holds `hosts`, named in refusals. */
  setting: string;
}

const systemResolve: WebhookResolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/** Loopback, private, link-local (a cloud metadata service), unspecified, reserved: anything not public unicast. */
export function insideTheSite(address: string): boolean {
  return !ipaddr.isValid(address) || ipaddr.process(address).range() !== 'unicast';
}

export function hostListed(host: string, hosts: readonly string[]): boolean {
  return hosts.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h));
}

function refuse(host: string, why: string): VisionError {
  return new VisionError('E_WEBHOOK_FORBIDDEN', `webhook host ${host} ${why}`);
}

/**
 * Throws `E_WEBHOOK_FORBIDDEN` naming the host unless `addresses` (what `host` resolved to, or the
 * literal it is) may be connected to: a listed host at any address; without a list, only when every
 * address is outside the site (a name with one inside answer is refused whichever would be used).
 */
export function admitWebhookAddresses(host: string, addresses: readonly string[], policy: WebhookTargetPolicy): void {
  if (policy.hosts.length) {
    if (!hostListed(host, policy.hosts)) throw refuse(host, `is not in ${policy.setting}`);
    return;
  }
  const inside = addresses.find(insideTheSite);
  if (inside !== undefined)
    throw refuse(
      host,
      `${inside === host ? 'is' : `resolves to ${inside},`} inside the site; list it in ${policy.setting} to allow it`,
    );
}

/** The address family a socket asked its lookup for (Node passes 4, 6, 0 or a family name); 0 is either. */
function requestedFamily(requested: number | string | undefined): number {
  if (requested === 'IPv4') return 4;
  if (requested === 'IPv6') return 6;
  return typeof requested === 'number' ? requested : 0;
}

/**
 * The `lookup` of the agent a webhook request connects through: it resolves the name, admits the
 * answers and hands exactly those to the socket, so the address checked is the address connected
 * to (a name that answers differently at submission and at delivery is checked at delivery).
 */
export function webhookLookup(policy: WebhookTargetPolicy): LookupFunction {
  const resolve = policy.resolve ?? systemResolve;
  return (host, options, callback) => {
    if (policy.hosts.length && !hostListed(host, policy.hosts))
      return callback(refuse(host, `is not in ${policy.setting}`), '', 0);
    resolve(host).then(
      (answers) => {
        const family = requestedFamily(options.family);
        const usable = answers.filter((a) => family === 0 || a.family === family);
        try {
          if (!usable.length) throw refuse(host, 'has no address');
          admitWebhookAddresses(
            host,
            usable.map((a) => a.address),
            policy,
          );
        } catch (err) {
          return callback(err as NodeJS.ErrnoException, '', 0);
        }
        // Node's socket asks for every address when it races families (autoSelectFamily), else one.
        if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        else callback(null, usable[0].address, usable[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

/** A resolver slower than this at submission leaves the decision to delivery. */
const SCREEN_TIMEOUT_MS = 2000;

/**
 * The same check ahead of time, for a refusal the client hears (`E_WEBHOOK_FORBIDDEN` at
 * submission) rather than deliveries that fail later. A name that does not resolve now passes:
 * delivery resolves again and decides.
 */
export async function screenWebhookHost(url: string, policy: WebhookTargetPolicy): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) return admitWebhookAddresses(host, [host], policy);
  if (policy.hosts.length) return admitWebhookAddresses(host, [], policy);
  let answers: LookupAddress[];
  let timer: NodeJS.Timeout | undefined;
  try {
    const late = new Promise<never>((_, reject) => (timer = setTimeout(reject, SCREEN_TIMEOUT_MS)));
    answers = await Promise.race([(policy.resolve ?? systemResolve)(host), late]);
  } catch {
    return;
  } finally {
    clearTimeout(timer);
  }
  admitWebhookAddresses(
    host,
    answers.map((a) => a.address),
    policy,
  );
}
