import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { EventsConfig } from '@vision/config';
import { postSignedWebhook, WEBHOOK_RETRY, type WebhookTargetPolicy } from '@vision/webhooks';
import type { VisionError } from '@vision/wire';
import { CursorOutput, type CursorOutputDeps, type StoredEvent } from './cursor-output';
import type { EventsMetrics } from '@vision/metrics';
import type { SiteEvent } from './site-event';
import type { WebhookSpec } from './site-rules';

function webhookWants(w: WebhookSpec, e: SiteEvent): boolean {
  return (
    (!w.cameras || w.cameras.some((c) => (c.endsWith('*') ? e.camera.startsWith(c.slice(0, -1)) : c === e.camera))) &&
    (!w.kinds || w.kinds.includes(e.kind)) &&
    (!w.rules || w.rules.includes(e.rule))
  );
}

/**
 * One webhook of the site file: its events, in order, POSTed as `{ site, events: [...] }` in
 * batches of up to EVENTS_WEBHOOK_BATCH, signed like bulk-job webhooks (`x-vision-signature`), and
 * retried with their policy (WEBHOOK_RETRY: 6 attempts, 1 s doubling). A batch that fails every
 * attempt is dropped and counted; a failing receiver delays only its own webhook.
 */
export class WebhookOutput {
  readonly output: CursorOutput;
  private readonly abort = new AbortController();

  constructor(
    readonly spec: WebhookSpec,
    private readonly target: WebhookTargetPolicy,
    private readonly site: string,
    /** EVENTS_WEBHOOK_SECRET, then during a rotation EVENTS_WEBHOOK_SECRET_PREVIOUS. */
    private readonly secrets: readonly string[],
    batch: number,
    deps: Omit<CursorOutputDeps, 'reader'>,
    readonly reader: Redis,
    private readonly metrics: EventsMetrics,
    private readonly log: Logger,
  ) {
    this.output = new CursorOutput(`hook:${spec.id}`, { ...deps, reader }, batch, (events) => this.post(events));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.output.stop();
    this.reader.disconnect();
  }

  private async post(stored: StoredEvent[]): Promise<void> {
    const events = stored.map((s) => s.event).filter((e) => webhookWants(this.spec, e));
    if (!events.length) return;
    const body = JSON.stringify({ site: this.site, events });
    for (let attempt = 1; ; attempt++) {
      try {
        await postSignedWebhook(this.spec.url, body, this.secrets, this.target);
        this.metrics.deliveries.inc({ output: 'webhook', outcome: 'delivered' }, events.length);
        return;
      } catch (err) {
        if (this.abort.signal.aborted) throw err;
        // A refused target stays refused: no further attempts.
        if (attempt >= WEBHOOK_RETRY.attempts || (err as VisionError).code === 'E_WEBHOOK_FORBIDDEN') {
          this.metrics.deliveries.inc({ output: 'webhook', outcome: 'dropped' }, events.length);
          this.log.error(
            { webhook: this.spec.id, events: events.length, err: (err as Error).message },
            'webhook refused, or failed every attempt; batch dropped',
          );
          return;
        }
        this.metrics.deliveries.inc({ output: 'webhook', outcome: 'retried' }, events.length);
        // Stopping cuts the pause short (the abort rejects it); the next attempt then gives up.
        await sleep(WEBHOOK_RETRY.backoff.delay * 2 ** (attempt - 1), undefined, { signal: this.abort.signal }).catch(
          () => undefined,
        );
      }
    }
  }
}

/** The site's webhooks, kept in step with the site file as it is reloaded. */
export class WebhookOutputs {
  private readonly outputs = new Map<string, WebhookOutput>();

  constructor(
    private readonly cfg: EventsConfig,
    private readonly deps: Omit<CursorOutputDeps, 'reader'>,
    private readonly newReader: () => Redis,
    private readonly metrics: EventsMetrics,
    private readonly log: Logger,
  ) {}

  all(): WebhookOutput[] {
    return [...this.outputs.values()];
  }

  /** Starts new webhooks (from the stream's end on the shards owned now), stops removed or changed ones. */
  async sync(specs: readonly WebhookSpec[]): Promise<void> {
    const wanted = new Map(specs.map((s) => [s.id, s]));
    for (const [id, out] of [...this.outputs]) {
      if (JSON.stringify(wanted.get(id)) === JSON.stringify(out.spec)) continue;
      this.outputs.delete(id);
      await out.stop();
    }
    const { secret, previousSecret } = this.cfg.webhooks;
    for (const spec of specs) {
      if (this.outputs.has(spec.id) || !secret) continue;
      const out = new WebhookOutput(
        spec,
        { hosts: this.cfg.webhooks.hosts, setting: 'EVENTS_WEBHOOK_HOSTS' },
        this.cfg.site,
        previousSecret ? [secret, previousSecret] : [secret],
        this.cfg.webhooks.batch,
        this.deps,
        this.newReader(),
        this.metrics,
        this.log,
      );
      this.outputs.set(spec.id, out);
      for (const [shard, token] of this.deps.owned) await out.output.acquired(shard, token);
      out.output.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.outputs.values()].map((o) => o.stop()));
    this.outputs.clear();
  }
}
