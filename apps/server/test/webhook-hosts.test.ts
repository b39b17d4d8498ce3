import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@vision/wire';
import {
  drawScene,
  modelsDir,
  startRedisSite,
  startWebhookReceiver,
  type RedisSite,
  type ServiceProcess,
  type WebhookReceiver,
} from '@vision/testing';

const WEBHOOK_SECRET = 'webhook-secret-0123456789abcdef0123456789';

/**
 * Webhook targets are checked where they resolve: a host name that resolves inside the site is
 * refused at submission, and a worker refuses at connect time whatever the edge let through.
 * Every request here stays on this machine (the receiver listens on loopback).
 */
describe('bulk job webhooks by host name', () => {
  let site: RedisSite;
  let open: ServiceProcess;
  let listed: ServiceProcess;
  let receiver: WebhookReceiver;
  const submit = async (edge: ServiceProcess, webhook: string) => {
    const form = new FormData();
    const image = await drawScene({ width: 64, height: 64, format: 'jpeg', rects: [] });
    form.append('image', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'a.jpg');
    const r = await fetch(`http://127.0.0.1:${edge.port}/v1/jobs?webhook=${encodeURIComponent(webhook)}`, {
      method: 'POST',
      body: form,
    });
    return { status: r.status, body: (await r.json()) as { id?: string; error?: { code: string; message: string } } };
  };
  const state = async (edge: ServiceProcess, id: string) =>
    ((await (await fetch(`http://127.0.0.1:${edge.port}/v1/jobs/${id}`)).json()) as { state: string }).state;

  beforeAll(async () => {
    site = await startRedisSite('hookhosts', {
      env: {
        MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
        BULK_WEBHOOK_SECRET: WEBHOOK_SECRET,
        BULK_LOCK_MS: '2000',
      },
    });
    receiver = await startWebhookReceiver();
    open = await site.start('edge');
    // An edge whose list names `localhost`: what it lets through, a worker without the list refuses.
    listed = await site.start('edge', { BULK_WEBHOOK_HOSTS: 'localhost' });
  });

  afterAll(async () => {
    await receiver?.close();
    await site.stop();
  });

  it("refuses this host's own name at submission, naming the webhook host as the reason", async () => {
    const before = receiver.received.length; // the other test's receiver calls, if it ran first
    const name = hostname();
    // The measured case: the machine's name resolves to loopback (a container's, to its private address).
    const answers = await lookup(name, { all: true });
    expect(answers.length).toBeGreaterThan(0);
    const r = await submit(open, `http://${name}:${receiver.port}/hook`);
    expect(r).toEqual({
      status: 403,
      body: { error: { code: 'E_WEBHOOK_FORBIDDEN', message: ERROR_CODES.E_WEBHOOK_FORBIDDEN.message } },
    });
    expect(r.body.error!.message).toMatch(/^the webhook host is not allowed/);
    expect(receiver.received.length).toBe(before);
  });

  it('a worker checks the address it connects to: refused without BULK_WEBHOOK_HOSTS, delivered with it', async () => {
    const before = receiver.received.length; // the other test's receiver calls, if it ran first
    const strict = await site.start('worker', { INTRA_OP_THREADS: '1' });
    try {
      const r = await submit(listed, `http://localhost:${receiver.port}/hook`);
      expect(r.status).toBe(202);
      await expect.poll(() => state(listed, r.body.id!), { timeout: 20_000 }).toBe('completed');
      await strict.waitForLog((l) => JSON.stringify(l).includes('webhook host localhost resolves to 127.0.0.1'));
      expect(receiver.received.length).toBe(before);
    } finally {
      await strict.kill('SIGKILL');
    }
    const allowing = await site.start('worker', {
      INTRA_OP_THREADS: '1',
      BULK_WEBHOOK_HOSTS: 'localhost',
    });
    try {
      const r = await submit(listed, `http://localhost:${receiver.port}/hook`);
      expect(r.status).toBe(202);
      await expect.poll(() => receiver.received.length, { timeout: 20_000 }).toBe(before + 1);
    } finally {
      await allowing.kill('SIGKILL');
    }
  });
});
