import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import { applyThreadPoolSize, loadConfig, processEnv, type AppConfig } from '@vision/config';

export function createLogger(config: Pick<AppConfig, 'logLevel'>, role: string): Logger {
  return pino({ level: config.logLevel, base: { role, pid: process.pid, hostname: hostname() } });
}

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. A stop that outlives `hardLimitMs` is cut
 * short so an orchestrator's kill timeout is never the thing that ends the process.
 */
function exitOnSignal(log: Logger, stop: () => Promise<void>, hardLimitMs: number): void {
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

/**
 * Logs a start-up failure with its stable code and exits non-zero: the JSON line every log reader
 * parses, and on a terminal also one plain line on stderr for the person who just typed the command.
 */
function failStartup(log: Logger, role: string, err: unknown): never {
  const e = err as { code?: string; message?: string; issues?: string[] };
  const code = e.code ?? 'E_INTERNAL';
  const message = e.message ?? String(err);
  log.fatal({ code, err: message, ...(e.issues ? { issues: e.issues } : {}) }, 'start-up failed');
  if (process.stderr.isTTY) {
    process.stderr.write(`${role}: start-up failed: ${code}: ${e.issues ? e.issues.join('; ') : message}\n`);
  }
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
    config = loadConfig(processEnv());
  } catch (err) {
    // No configuration, so no LOG_LEVEL (it may be the bad setting): the default level reports it.
    failStartup(createLogger({ logLevel: 'info' }, role), role, err);
  }
  applyThreadPoolSize(config);
  const log = createLogger(config, role);
  start(config, log).then(
    (stop) => exitOnSignal(log, stop, config.frames.shutdownGraceMs + 5000),
    (err: unknown) => failStartup(log, role, err),
  );
}

/**
 * A warn-level log for events clients can cause (protocol violations, undecodable frames): the
 * first of each kind per window is logged, the rest are counted and summed up once the window
 * ends, so a hostile client cannot turn our logs into its amplifier.
 */
export function throttledWarn(
  log: Logger,
  windowMs = 10_000,
): (kind: string, fields: Record<string, unknown>, msg: string) => void {
  const windows = new Map<string, { until: number; suppressed: number }>();
  return (kind, fields, msg) => {
    const now = Date.now();
    const w = windows.get(kind);
    if (w && now < w.until) {
      w.suppressed++;
      return;
    }
    if (w?.suppressed) log.warn({ kind, suppressed: w.suppressed }, 'similar events suppressed');
    windows.set(kind, { until: now + windowMs, suppressed: 0 });
    if (windows.size > 1000) windows.clear(); // kinds are our own codes; this only guards a bug
    log.warn({ kind, ...fields }, msg);
  };
}
