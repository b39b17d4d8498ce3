import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type EventsConfig } from '@vision/config';
import { throttledWarn } from '@vision/runtime';
import { CursorOutput, type CursorOutputDeps, type StoredEvent } from './cursor-output';
import type { EventsMetrics } from '@vision/metrics';
import type { SiteEvent } from './site-event';

/** `<prefix>/<site>/<camera>/<rule>/<kind>`; the camera id is percent-encoded (it may hold `/`, `+` or `#`). */
function mqttTopic(prefix: string, e: SiteEvent): string {
  return `${prefix}/${e.site}/${encodeURIComponent(e.camera)}/${e.rule}/${e.kind}`;
}

/**
 * Publishes every event at QoS 1 on its topic; `count` events are retained, so a subscriber gets
 * each zone's occupancy and each line's totals as soon as it subscribes. At most EVENTS_MQTT_INFLIGHT
 * events wait for their PUBACK; while the broker is down the output waits (the client resends
 * unacknowledged messages on reconnect) and the events wait on the events stream.
 */
export class MqttOutput {
  readonly output: CursorOutput;
  private client: MqttClient | undefined;
  private readonly clientId: string;
  private stopping = false;

  constructor(
    private readonly cfg: NonNullable<EventsConfig['mqtt']>,
    instanceId: string,
    deps: CursorOutputDeps,
    private readonly metrics: EventsMetrics,
    private readonly log: Logger,
  ) {
    this.output = new CursorOutput(
      'mqtt',
      deps,
      cfg.inflight,
      (events) => this.publish(events),
      () => this.connected(),
    );
    this.clientId = `vision-events-${instanceId}`.slice(0, 128);
  }

  start(): void {
    const warn = throttledWarn(this.log);
    this.client = mqtt.connect(this.cfg.url, {
      clientId: this.clientId,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      queueQoSZero: false,
      ...(this.cfg.username ? { username: this.cfg.username, password: this.cfg.password } : {}),
    });
    this.client.on('connect', () => {
      this.metrics.mqttConnected.set(1);
      this.log.info({ url: redact(this.cfg.url) }, 'MQTT connected');
    });
    this.client.on('close', () => this.metrics.mqttConnected.set(0));
    this.client.on('error', (err) => warn('E_MQTT', { err: err.message }, 'MQTT error'));
    this.output.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const stopping = this.output.stop();
    // Pending publishes fail once the client is ended, which lets the output loop finish.
    await this.client?.endAsync(true).catch(() => undefined);
    await stopping;
  }

  private async connected(): Promise<void> {
    while (this.client && !this.client.connected && !this.stopping) await sleep(100);
  }

  private async publish(events: StoredEvent[]): Promise<void> {
    const client = this.client!;
    await Promise.all(
      events.map(({ event }) =>
        client.publishAsync(mqttTopic(this.cfg.prefix, event), JSON.stringify(event), {
          qos: 1,
          retain: event.kind === 'count',
        }),
      ),
    );
    this.metrics.deliveries.inc({ output: 'mqtt', outcome: 'delivered' }, events.length);
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return 'mqtt';
  }
}
