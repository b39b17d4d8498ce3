import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { EVENT_LOOP_SAMPLE_MS } from './vision-metrics';

/** What the metrics read of a committed site event (libs/events' `SiteEvent` carries these). */
export interface CommittedEvent {
  kind: string;
  /** Capture time, epoch ms. */
  ts: number;
  camera: string;
  rule: string;
  ruleType: string;
  /** How many objects its rule holds now, for rule types that have an occupancy (libs/events' rule registry says). */
  occupancy?: number;
}

/** (camera, rule) pairs with their own occupancy and crossing series, per process; the rest share `_other`. */
const MAX_RULE_SERIES = 1000;

/**
 * The events service's Prometheus metrics (docs/metrics.md): per-zone occupancy, per-line
 * crossings, the capture-to-event lag, and what happened to every entry read.
 */
export class EventsMetrics {
  readonly registry = new Registry();
  readonly frames = new Counter({
    name: 'vision_events_frames_total',
    help:
      'Results-stream entries read, by outcome (buffered, duplicate, late, invalid, ' +
      'unused: no rule for the camera, overflow: too many cameras)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly processed = new Counter({
    name: 'vision_events_processed_frames_total',
    help: 'Frames tracked and evaluated against rules',
    registers: [this.registry],
  });
  readonly detections = new Counter({
    name: 'vision_events_detections_total',
    help: 'Detections (both tiers) of the frames tracked',
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'vision_events_total',
    help: 'Events appended to the events stream, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly snapshots = new Counter({
    name: 'vision_events_snapshots_total',
    help:
      'Track-event snapshots by outcome (stored; frame_gone: the frame window no longer held the frame; ' +
      'decode, disk_full, write, queue_full)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly snapshotSeconds = new Histogram({
    name: 'vision_events_snapshot_seconds',
    help: 'Event commit to its snapshot being readable from the API',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly snapshotBytes = new Gauge({
    name: 'vision_events_snapshot_bytes',
    help: 'Bytes the snapshot store holds, as of the last retention sweep',
    registers: [this.registry],
  });
  readonly snapshotFiles = new Gauge({
    name: 'vision_events_snapshot_files',
    help: 'Objects (records, pictures, crops) the snapshot store holds, as of the last retention sweep',
    registers: [this.registry],
  });
  readonly snapshotDeletions = new Counter({
    name: 'vision_events_snapshot_deletions_total',
    help: 'Snapshots deleted by retention, by reason (age, budget)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly lag = new Histogram({
    name: 'vision_events_lag_seconds',
    help: 'Capture time of the frame to the event being durable on the events stream',
    buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
    registers: [this.registry],
  });
  readonly occupancy = new Gauge({
    name: 'vision_events_zone_occupancy',
    help: 'Confirmed tracks inside a zone or crowd, for the shards this instance owns',
    labelNames: ['camera', 'rule'] as const,
    registers: [this.registry],
  });
  readonly crossings = new Counter({
    name: 'vision_events_line_crossings_total',
    help: 'Line crossings by direction (both directions, whatever the rule emits)',
    labelNames: ['camera', 'rule', 'direction'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'vision_events_deliveries_total',
    help: 'Events handed to an output, by output (mqtt, webhook, ws) and outcome',
    labelNames: ['output', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly shards = new Gauge({
    name: 'vision_events_shards_owned',
    help: 'Results shards this instance owns',
    registers: [this.registry],
  });
  readonly cameras = new Gauge({
    name: 'vision_events_cameras',
    help: 'Cameras with rules being tracked by this instance',
    registers: [this.registry],
  });
  readonly tracks = new Gauge({
    name: 'vision_events_tracks',
    help: 'Live tracks (all phases) held by this instance',
    registers: [this.registry],
  });
  readonly commits = new Counter({
    name: 'vision_events_commits_total',
    help: 'Checkpoint commits, by outcome (ok, fenced: the lease was lost, error)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly mqttConnected = new Gauge({
    name: 'vision_events_mqtt_connected',
    help: '1 while connected to the MQTT broker',
    registers: [this.registry],
  });
  readonly wsClients = new Gauge({
    name: 'vision_events_ws_clients',
    help: 'Open /ws/events connections',
    registers: [this.registry],
  });
  private readonly series = new Set<string>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Everything a committed event says about counts and lag; `now` is when it became durable. */
  committed(e: CommittedEvent, now: number): void {
    this.events.inc({ kind: e.kind });
    this.lag.observe(Math.max(0, now - e.ts) / 1000);
    const camera = this.label(e.camera, e.rule);
    if (e.kind === 'count' && e.occupancy !== undefined && camera !== '_other')
      this.occupancy.set({ camera, rule: e.rule }, e.occupancy);
  }

  /** A committed crossing, emitted as an event or not (rules may emit one direction and count both). */
  crossed(camera: string, rule: string, direction: 'in' | 'out'): void {
    this.crossings.inc({ camera: this.label(camera, rule), rule, direction });
  }

  /** Drops a camera's occupancy series (its shard moved to another instance, which reports it now). */
  forget(camera: string, rules: readonly string[]): void {
    for (const rule of rules) this.occupancy.remove({ camera, rule });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private label(camera: string, rule: string): string {
    const key = `${camera}\u0000${rule}`;
    if (this.series.has(key)) return camera;
    if (this.series.size >= MAX_RULE_SERIES) return '_other';
    this.series.add(key);
    return camera;
  }
}
