import pino, { type Logger } from 'pino';
import type { AppConfig } from './config';

export function createLogger(config: Pick<AppConfig, 'logLevel'>, role: string): Logger {
  return pino({ level: config.logLevel, base: { role, pid: process.pid } });
}

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. A stop that outlives `hardLimitMs` is cut
 * short so an orchestrator's kill timeout is never the thing that ends the process.
 */
export function exitOnSignal(log: Logger, stop: () => Promise<void>, hardLimitMs: number): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const killer = setTimeout(() => {
      log.error({ hardLimitMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, hardLimitMs);
    killer.unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Logs a start-up failure with its stable code and exits non-zero. */
export function failStartup(log: Logger, err: unknown): never {
  const e = err as { code?: string; message?: string };
  log.fatal({ code: e.code ?? 'E_INTERNAL', err: e.message ?? String(err) }, 'start-up failed');
  // pino writes synchronously to stdout by default, so the line is out before we exit.
  process.exit(1);
}
