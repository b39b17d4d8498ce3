import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { throttledWarn } from '@vision/runtime';
import type { EventsKeys } from './events-keys';
import { eventsScripts } from './events-scripts';
import type { SiteEvent } from './site-event';

export interface StoredEvent {
  shard: number;
  /** Stream id on the shard's events stream. */
  id: string;
  event: SiteEvent;
}

export interface CursorOutputDeps {
  cmd: Redis;
  /** A connection of its own: XREAD blocks it. */
  reader: Redis;
  keys: EventsKeys;
  /** Shard -> lease token, for the shards this instance owns. */
  owned: ReadonlyMap<number, string>;
  log: Logger;
}

/** How long an output read blocks on the events streams; bounds how long a stop waits. */
const BLOCK_MS = 200;

/**
 * One output (MQTT, a webhook) reading the events streams of the shards this instance owns, from a
 * cursor kept in the shard's checkpoint. The cursor moves only after `deliver` succeeded, so after a
 * crash the next owner delivers from the last recorded cursor: at least once, and a repeat is the
 * same stored event with the same id. An output that cannot deliver (broker down, receiver failing)
 * holds only its own cursor; the events wait on the stream, bounded by EVENTS_MAXLEN.
 */
export class CursorOutput {
  private readonly cursors = new Map<number, string>();
  private readonly warn: ReturnType<typeof throttledWarn>;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    /** The cursor's field in the checkpoint is `out:<name>`. */
    readonly name: string,
    private readonly deps: CursorOutputDeps,
    private readonly batch: number,
    private readonly deliver: (events: StoredEvent[]) => Promise<void>,
    private readonly ready: () => Promise<void> = async () => undefined,
  ) {
    this.warn = throttledWarn(deps.log);
  }

  /**
   * A shard was taken: resume from its recorded cursor, or, for an output the shard never had,
   * from the stream's end as of now (recorded at once, before the shard makes any new event).
   */
  async acquired(shard: number, token: string): Promise<void> {
    let cursor = (await this.deps.cmd.hget(this.deps.keys.checkpoint(shard), `out:${this.name}`)) ?? undefined;
    if (cursor === undefined) {
      const last = await this.deps.cmd.xrevrange(this.deps.keys.events(shard), '+', '-', 'COUNT', 1);
      cursor = last[0]?.[0] ?? '0-0';
      await this.persist(shard, token, cursor);
    }
    this.cursors.set(shard, cursor);
  }

  lost(shard: number): void {
    this.cursors.delete(shard);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const shards = [...this.cursors.keys()].filter((s) => this.deps.owned.has(s));
      if (!shards.length) {
        await sleep(BLOCK_MS);
        continue;
      }
      try {
        await this.ready();
        if (this.stopped) break;
        const res = (await this.deps.reader.xread(
          'COUNT',
          this.batch,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          ...shards.map((s) => this.deps.keys.events(s)),
          ...shards.map((s) => this.cursors.get(s)!),
        )) as [string, [string, string[]][]][] | null;
        if (!res) continue;
        const items: StoredEvent[] = [];
        const last = new Map<number, string>();
        for (const [key, entries] of res) {
          const shard = shards.find((s) => this.deps.keys.events(s) === key)!;
          for (const [id, fields] of entries) {
            last.set(shard, id);
            const event = parseEvent(fields);
            if (event) items.push({ shard, id, event });
          }
        }
        await this.deliver(items);
        for (const [shard, id] of last) {
          if (!this.cursors.has(shard)) continue;
          this.cursors.set(shard, id);
          const token = this.deps.owned.get(shard);
          if (token === undefined || !(await this.persist(shard, token, id))) this.cursors.delete(shard);
        }
      } catch (err) {
        if (this.stopped) break;
        this.warn(
          `E_OUTPUT_${this.name}`,
          { output: this.name, err: (err as Error).message },
          'output stalled; retrying',
        );
        await sleep(500);
      }
    }
  }

  private async persist(shard: number, token: string, id: string): Promise<boolean> {
    const k = this.deps.keys;
    return (
      (await eventsScripts.cursor.run(
        this.deps.cmd,
        { lease: k.lease(shard), checkpoint: k.checkpoint(shard) },
        { token, field: `out:${this.name}`, id },
      )) === 1
    );
  }
}

/** Only our commit script writes the stream; an entry that is not ours is skipped, never retried forever. */
function parseEvent(fields: string[]): SiteEvent | undefined {
  const i = fields.indexOf('event');
  try {
    return i >= 0 && i % 2 === 0 ? (JSON.parse(fields[i + 1]) as SiteEvent) : undefined;
  } catch {
    return undefined;
  }
}
