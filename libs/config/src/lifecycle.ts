import pino, { type Logger } from 'pino';
import { loadConfig, type AppConfig } from './config';

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

/**
 * The shape of every process entry point: validate the environment, build a logger, start the
 * role, and stop it on SIGTERM/SIGINT. `start` returns the role's stop function.
 */
export function runMain(role: string, start: (config: AppConfig, log: Logger) => Promise<() => Promise<void>>): void {
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
  const log = createLogger(config, role);
  start(config, log).then(
    (stop) => exitOnSignal(log, stop, config.frames.shutdownGraceMs + 5000),
    (err: unknown) => failStartup(log, err),
  );
}
