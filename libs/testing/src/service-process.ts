import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { INFERENCE_NODE_FLAGS, processEnv } from '@vision/config';
import { repoRoot } from './paths';

export type ServiceRole = 'edge' | 'worker' | 'server' | 'gateway' | 'events';

export interface ServiceProcess {
  role: ServiceRole;
  proc: ChildProcess;
  /** The HTTP/WebSocket port (edge, server and events roles), or the gateway's API port. */
  port: number | undefined;
  /** METRICS_PORT as bound (/metrics, /healthz, /readyz). */
  metricsPort: number;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or signal) once the process ends. */
  exited: Promise<number | string>;
  /** Waits for a log line matching `pred`. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * What a service inherits from the harness: the search path, and on a GPU host where the CUDA
 * libraries are and how many threads libuv (hence sharp's decodes) may use. Nothing else leaks in,
 * so a test's environment is the one it spells out.
 */
const INHERITED = ['PATH', 'LD_LIBRARY_PATH', 'CUDA_VISIBLE_DEVICES', 'UV_THREADPOOL_SIZE'] as const;

const READY_MSG: Record<ServiceRole, string> = {
  edge: 'edge listening',
  worker: 'worker started',
  server: 'ready',
  gateway: 'gateway ready',
  events: 'events ready',
};

/**
 * Starts a built app (`apps/<role>/dist/main.js`) as a real process with `env` (the worker and the
 * server with their Node flags, as their launchers start them), and resolves when it logs that it
 * is ready. Logs are pino JSON lines on stdout, kept for assertions. Authentication is off unless
 * `env` turns it on (a key source with `AUTH_DISABLED: ''`), and so is a worker's host fit (`HOST_FIT`).
 */
export async function startService(
  role: ServiceRole,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ServiceProcess> {
  const script = join(repoRoot(), 'apps', role, 'dist', 'main.js');
  const proc = spawn(
    process.execPath,
    [...(role === 'worker' || role === 'server' ? INFERENCE_NODE_FLAGS : []), script],
    {
      cwd: repoRoot(),
      env: {
        ...inherited(),
        LOG_LEVEL: 'info',
        PORT: '0',
        METRICS_PORT: '0',
        AUTH_DISABLED: 'true',
        // A worker would spend its fit budget on every start; the fit's own tests and the benches turn it on.
        HOST_FIT: 'false',
        ...(role === 'gateway' ? { GATEWAY_PORT: '0' } : {}),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<{
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }>();
  let buf = '';
  const stderr: string[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { msg: line };
      }
      logs.push(parsed);
      for (const w of waiters)
        if (w.pred(parsed)) {
          waiters.delete(w);
          w.resolve(parsed);
        }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );

  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, ms = timeoutMs) => {
    const hit = logs.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const w = { pred, resolve: (l: Record<string, unknown>) => (clearTimeout(t), resolve(l)) };
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${role}: no matching log line within ${ms} ms; stderr: ${stderr.join('').slice(-2000)}`));
      }, ms);
      waiters.add(w);
      void exited.then((code) => {
        if (!waiters.has(w)) return;
        waiters.delete(w);
        clearTimeout(t);
        reject(
          new Error(
            `${role} exited (${code}) before the awaited log line; ` +
              `last logs: ${JSON.stringify(logs.slice(-3))} stderr: ${stderr.join('').slice(-2000)}`,
          ),
        );
      });
    });
  };

  const ready = await waitForLog((l) => l['msg'] === READY_MSG[role]).catch((err: unknown) => {
    // A process that never became ready is the caller's to forget, not to find running later.
    proc.kill('SIGKILL');
    throw err;
  });
  const portLine = logs.find((l) => typeof l['port'] === 'number');
  return {
    role,
    proc,
    port:
      role === 'worker'
        ? undefined
        : ((portLine?.['port'] as number | undefined) ?? (ready['port'] as number | undefined)),
    metricsPort: (logs.find((l) => typeof l['metricsPort'] === 'number')?.['metricsPort'] as number | undefined) ?? 0,
    logs,
    exited,
    waitForLog,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

function inherited(): Record<string, string> {
  const env = processEnv();
  return Object.fromEntries(INHERITED.flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]!]])));
}
