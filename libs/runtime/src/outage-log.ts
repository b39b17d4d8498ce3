import type { Logger } from 'pino';

/**
 * One dependency's outages as a process sees them (Redis, a broker): one warning when it goes
 * away, a reminder while it stays away, one line when it is back; the failures in between (a
 * command, a queue, a retry loop) are counted, not logged. A process with a dozen connections and
 * retry loops would otherwise write several lines a second for as long as the outage lasts.
 */
export class OutageLog {
  private readonly down = new Map<string, string>();
  private since = 0;
  private suppressed = 0;
  private reminder: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly dependency: string,
    private readonly reminderMs: number,
  ) {}

  get isDown(): boolean {
    return this.down.size > 0;
  }

  /** A connection (named) lost the dependency. */
  connectionDown(name: string, err: Error): void {
    if (this.down.has(name)) {
      this.suppressed++;
      return;
    }
    this.down.set(name, err.message);
    if (this.down.size > 1) return;
    this.since = Date.now();
    this.suppressed = 0;
    this.log.warn(
      { dependency: this.dependency, connection: name, err: err.message },
      `${this.dependency} unreachable`,
    );
    this.reminder = setInterval(() => {
      this.log.warn(
        {
          dependency: this.dependency,
          downS: Math.round((Date.now() - this.since) / 1000),
          suppressed: this.suppressed,
        },
        `${this.dependency} still unreachable`,
      );
      this.suppressed = 0;
    }, this.reminderMs);
    this.reminder.unref();
  }

  /** A connection got the dependency back; the outage ends when every connection that lost it has. */
  connectionUp(name: string): void {
    if (!this.down.delete(name) || this.down.size > 0) return;
    clearInterval(this.reminder);
    this.log.info(
      { dependency: this.dependency, downS: Math.round((Date.now() - this.since) / 1000), suppressed: this.suppressed },
      `${this.dependency} reachable again`,
    );
  }

  /** The `onState` hook of a connection: routes its down/up events here. */
  readonly onState = (state: 'down' | 'up', name: string, err?: Error): void => {
    if (state === 'down') this.connectionDown(name, err ?? new Error('connection lost'));
    else this.connectionUp(name);
  };

  /**
   * A failure elsewhere (a command, a queue's retry): counted while the dependency is down, else
   * logged through `warn` (throttled by the caller's kind).
   */
  failure(where: string, err: Error, warn: (kind: string, fields: Record<string, unknown>, msg: string) => void): void {
    if (this.isDown || isConnectionError(err)) {
      this.suppressed++;
      return;
    }
    warn(where, { err: err.message }, `${this.dependency}: ${where} failed`);
  }

  stop(): void {
    clearInterval(this.reminder);
  }
}

/** Errors that mean "the connection is gone", whoever reports them (ioredis, BullMQ, net). */
function isConnectionError(err: Error): boolean {
  const code = (err as { code?: string }).code;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'EPIPE' ||
    code === 'ENOTFOUND' ||
    CONNECTION_LOST_MESSAGES.test(err.message)
  );
}

const CONNECTION_LOST_MESSAGES = new RegExp(
  [
    /max retries per request|Connection is closed|Stream isn't writeable|enableOfflineQueue/,
    /Command timed out|ECONNREFUSED|ECONNRESET/,
  ]
    .map((p) => p.source)
    .join('|'),
  'i',
);
