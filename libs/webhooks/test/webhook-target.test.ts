import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '@vision/testing';
import { VisionError } from '@vision/wire';
import {
  postSignedWebhook,
  screenWebhookHost,
  verifyWebhook,
  webhookLookup,
  type WebhookResolver,
  type WebhookTargetPolicy,
} from '../src';

const SECRET = 'connect-time-secret-0123456789abcdef';
/** A public unicast address: only ever handed to a lookup callback here, never connected to. */
const PUBLIC = '93.184.216.34';

/** A resolver of test names; each name answers its list of answers in turn (the last one repeats). */
function resolver(answers: Record<string, string[][]>): WebhookResolver & { calls: string[] } {
  const calls: string[] = [];
  const seen = new Map<string, number>();
  const resolve = async (host: string): Promise<LookupAddress[]> => {
    calls.push(host);
    const list = answers[host];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    const i = seen.get(host) ?? 0;
    seen.set(host, i + 1);
    return list[Math.min(i, list.length - 1)].map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

function lookupOf(policy: WebhookTargetPolicy, host: string, all: boolean) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
    webhookLookup(policy)(host, { all }, (err, address) => resolve({ err, address })),
  );
}

describe('webhooks: the address connected to is the address checked', () => {
  let receiver: WebhookReceiver;
  let port: number;
  let bodies: ReceivedWebhook[];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    port = receiver.port;
    bodies = receiver.received;
  });

  afterAll(() => receiver.close());

  const refusal = async (p: Promise<unknown>) => {
    const err = (await p.then(
      () => undefined,
      (e: unknown) => e,
    )) as VisionError | undefined;
    return { code: err?.code, message: err?.message };
  };

  it('refuses a name that resolves to loopback, before any connection, naming the host', async () => {
    const resolve = resolver({ 'hooks.inside.test': [['127.0.0.1']] });
    const policy = { hosts: [], resolve, setting: 'BULK_WEBHOOK_HOSTS' };
    const before = bodies.length;
    expect(await refusal(postSignedWebhook(`http://hooks.inside.test:${port}/hook`, '{}', SECRET, policy))).toEqual({
      code: 'E_WEBHOOK_FORBIDDEN',
      message:
        'webhook host hooks.inside.test resolves to 127.0.0.1, inside the site; ' +
        'list it in BULK_WEBHOOK_HOSTS to allow it',
    });
    expect(resolve.calls).toEqual(['hooks.inside.test']);
    expect(bodies.length).toBe(before);
    // Submission hears the same refusal.
    expect(await refusal(screenWebhookHost(`http://hooks.inside.test:${port}/`, policy))).toMatchObject({
      code: 'E_WEBHOOK_FORBIDDEN',
    });
  });

  it('refuses a literal in-site address at delivery too (a job queued under another list)', async () => {
    const resolve = resolver({});
    const before = bodies.length;
    const policy = { hosts: [], resolve, setting: 'BULK_WEBHOOK_HOSTS' };
    expect(await refusal(postSignedWebhook(`http://127.0.0.1:${port}/hook`, '{}', SECRET, policy))).toMatchObject({
      code: 'E_WEBHOOK_FORBIDDEN',
      message: expect.stringContaining('webhook host 127.0.0.1 is inside the site'),
    });
    expect(bodies.length).toBe(before);
  });

  it('hands a public answer to the socket unchanged, and refuses a name with any in-site answer', async () => {
    const resolve = resolver({ 'hooks.public.test': [[PUBLIC]], 'hooks.mixed.test': [[PUBLIC, '10.0.0.7']] });
    const policy = { hosts: [], resolve, setting: 'EVENTS_WEBHOOK_HOSTS' };
    // Both forms Node's sockets use: one address, or every address when racing families.
    expect(await lookupOf(policy, 'hooks.public.test', false)).toEqual({ err: null, address: PUBLIC });
    expect(await lookupOf(policy, 'hooks.public.test', true)).toEqual({
      err: null,
      address: [{ address: PUBLIC, family: 4 }],
    });
    await expect(screenWebhookHost('https://hooks.public.test/h', policy)).resolves.toBeUndefined();
    const mixed = await lookupOf(policy, 'hooks.mixed.test', true);
    expect((mixed.err as VisionError | null)?.code).toBe('E_WEBHOOK_FORBIDDEN');
    expect(mixed.err?.message).toContain('hooks.mixed.test resolves to 10.0.0.7');
  });

  it('checks at connect: a name answering public at submission and loopback at delivery is refused', async () => {
    const resolve = resolver({ 'hooks.rebind.test': [[PUBLIC], ['127.0.0.1']] });
    const policy = { hosts: [], resolve, setting: 'BULK_WEBHOOK_HOSTS' };
    const url = `http://hooks.rebind.test:${port}/hook`;
    await expect(screenWebhookHost(url, policy)).resolves.toBeUndefined();
    const before = bodies.length;
    expect(await refusal(postSignedWebhook(url, '{}', SECRET, policy))).toMatchObject({
      code: 'E_WEBHOOK_FORBIDDEN',
      message: expect.stringContaining('hooks.rebind.test resolves to 127.0.0.1'),
    });
    expect(resolve.calls).toEqual(['hooks.rebind.test', 'hooks.rebind.test']);
    expect(bodies.length).toBe(before);
  });

  it('delivers to a listed host inside the site through the same lookup', async () => {
    const resolve = resolver({ 'receiver.site.test': [['127.0.0.1']] });
    const policy = { hosts: ['*.site.test'], resolve, setting: 'BULK_WEBHOOK_HOSTS' };
    const before = bodies.length;
    await postSignedWebhook(`http://receiver.site.test:${port}/hook`, '{"n":1}', SECRET, policy);
    expect(resolve.calls).toEqual(['receiver.site.test']);
    expect(bodies.length).toBe(before + 1);
    expect(bodies.at(-1)!.body).toBe('{"n":1}');
    expect(verifyWebhook(SECRET, '{"n":1}', bodies.at(-1)!.signature)).toBe(true);
    // A literal the list names, as the shipped tests' receivers are.
    await postSignedWebhook(`http://127.0.0.1:${port}/hook`, '{"n":2}', SECRET, { ...policy, hosts: ['127.0.0.1'] });
    expect(bodies.length).toBe(before + 2);
    // Outside the list: refused before any lookup.
    expect(await refusal(postSignedWebhook(`http://elsewhere.test:${port}/`, '{}', SECRET, policy))).toMatchObject({
      code: 'E_WEBHOOK_FORBIDDEN',
      message: 'webhook host elsewhere.test is not in BULK_WEBHOOK_HOSTS',
    });
    expect(resolve.calls).toEqual(['receiver.site.test']);
  });
});
