import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { DetRow, ResultsEntry } from '@vision/results-stream';
import {
  freePort,
  modelsDir,
  startRedisSite,
  startWebhookReceiver,
  type ServiceProcess,
  type TestRedis,
  sleep,
} from '@vision/testing';
import { verifyWebhook } from '@vision/webhooks';

export const WEBHOOK_SECRET = 'events-webhook-secret-0123456789abcdef';

/**
 * Debian's broker on a port of its own. Persistence keeps sessions across a clean restart;
 * `saveEveryChange` also writes them at every change, so they survive a SIGKILL.
 */
export class Mosquitto {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));

  private constructor(
    readonly port: number,
    saveEveryChange: boolean,
  ) {
    writeFileSync(
      join(this.dir, 'mosquitto.conf'),
      `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${this.dir}/\n` +
        (saveEveryChange ? 'autosave_on_changes true\nautosave_interval 1\n' : ''),
    );
  }

  static async start(saveEveryChange = false): Promise<Mosquitto> {
    const m = new Mosquitto(await freePort(), saveEveryChange);
    await m.restart();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    this.proc = spawn('/usr/sbin/mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (this.proc.exitCode !== null) throw new Error(`mosquitto exited with ${this.proc.exitCode}`);
      if (Date.now() > deadline) throw new Error('mosquitto did not listen');
      await sleep(50);
    }
  }

  /** SIGTERM saves the sessions (persistence); SIGKILL loses them. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A QoS 1 subscriber with a persistent session (clean: false), so it misses nothing across a broker restart. */
export async function mqttSubscriber(
  url: string,
  topic: string,
  clientId: string,
): Promise<{ client: MqttClient; messages: { topic: string; body: Record<string, unknown>; retain: boolean }[] }> {
  const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 200 });
  const messages: { topic: string; body: Record<string, unknown>; retain: boolean }[] = [];
  client.on('message', (t, payload, packet) =>
    messages.push({ topic: t, body: JSON.parse(payload.toString()) as Record<string, unknown>, retain: packet.retain }),
  );
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, messages };
}

/**
 * A webhook receiver that checks every signature with `secret`; `failFirst` answers 503 to that many
 * requests first; `delayMs` answers that late (the events are recorded on arrival, as a receiver would).
 */
export async function webhookReceiver(
  failFirst = 0,
  delayMs = 0,
  secret = WEBHOOK_SECRET,
): Promise<{ url: string; server: Server; events: Record<string, unknown>[]; bad: number; requests: number }> {
  const events: Record<string, unknown>[] = [];
  let bad = 0;
  const receiver = await startWebhookReceiver({
    delayMs,
    status: (n, { body, signature }) => {
      if (!verifyWebhook(secret, body, signature)) return (bad++, 401);
      if (n <= failFirst) return 503;
      events.push(...(JSON.parse(body) as { events: Record<string, unknown>[] }).events);
      return 204;
    },
  });
  return {
    url: receiver.url,
    server: receiver.server,
    events,
    get bad() {
      return bad;
    },
    get requests() {
      return receiver.received.length;
    },
  };
}

/** A box whose bottom-centre moves from `a` to `b` over frames `f0`..`f1`. */
export interface Mover {
  cls: number;
  w: number;
  h: number;
  a: [number, number];
  b: [number, number];
  f0: number;
  f1: number;
}

/**
 * `count` people crossing the gate (x 640) one every `everyFrames` frames, alternating directions, on
 * three lanes; each crossing takes 24 frames.
 */
export function crossingMovers(count: number, everyFrames: number): Mover[] {
  return Array.from({ length: count }, (_, k) => {
    const lane = 420 + 80 * (k % 3);
    const [left, right]: [number, number][] = [
      [280, lane],
      [1000, lane],
    ];
    return {
      cls: 0,
      w: 50,
      h: 120,
      a: k % 2 ? right : left,
      b: k % 2 ? left : right,
      f0: everyFrames * k,
      f1: everyFrames * k + 24,
    };
  });
}

/** Frames of `camera` at `fps` from `t0`: the movers' boxes (score 0.9), one entry per frame. */
export function frames(camera: string, movers: Mover[], count: number, t0: number, fps: number): ResultsEntry[] {
  return Array.from({ length: count }, (_, i) => {
    const dets: DetRow[] = [];
    for (const m of movers) {
      if (i < m.f0 || i > m.f1) continue;
      const f = (i - m.f0) / Math.max(1, m.f1 - m.f0);
      const x = m.a[0] + (m.b[0] - m.a[0]) * f;
      const y = m.a[1] + (m.b[1] - m.a[1]) * f;
      dets.push([x - m.w / 2, y - m.h, x + m.w / 2, y, 0.9, m.cls]);
    }
    return {
      camera,
      frame: i + 1,
      ts: t0 + Math.round((i * 1000) / fps),
      model: 'synthetic',
      w: 1280,
      h: 720,
      conf: 0.25,
      dets,
      names: { 0: 'person', 1: 'car' },
    };
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await sleep(50);
  }
}

/**
 * A site on Redis with real processes: the events service reading `site` (written to a site file),
 * a worker with the fixture colour detector and an edge. `eventsEnv` adds the events service's own
 * settings (outputs, authentication).
 */
export async function startEventsSite(
  name: string,
  site: unknown,
  eventsEnv: Record<string, string>,
): Promise<{ redis: TestRedis; edge: ServiceProcess; events: ServiceProcess; stop(): Promise<void> }> {
  const siteFile = join(mkdtempSync(join(tmpdir(), 'site-')), 'site.json');
  writeFileSync(siteFile, JSON.stringify(site));
  const redisSite = await startRedisSite(name);
  const stop = () => redisSite.stop();
  try {
    const events = await redisSite.start('events', { EVENTS_SITE_FILE: siteFile, ...eventsEnv });
    await redisSite.start('worker', { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'), INTRA_OP_THREADS: '1' });
    const edge = await redisSite.start('edge');
    return { redis: redisSite.redis, edge, events, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
