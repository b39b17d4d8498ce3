import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../paths';
import { freePort } from '../redis-server';

/** The system Python: it has python3-gi (a pyenv `python3` on PATH may not). */
const PYTHON = '/usr/bin/python3';
const READY_TIMEOUT_MS = 15_000;

export interface RtspServerOptions {
  /** An Annex-B H.264 clip with an AUD before every frame (`encodeMovingSquare(…, 'h264')`). */
  clip: string;
  fps: number;
  /** @defaultValue '/cam' */
  path?: string;
  /** Basic authentication: only this user may play. */
  user?: string;
  password?: string;
  /** RTSP over TLS (rtsps://, anyone may play): a PEM file with the certificate and its key. */
  tlsCertFile?: string;
}

export interface TestRtspServer {
  port: number;
  /**
   * rtsp:// (rtsps:// with TLS) 127.0.0.1:<port><path>, with the credentials percent-encoded when
   * `withCredentials`.
   */
  url(withCredentials?: boolean): string;
  pid(): number | undefined;
  /** Kills the server (SIGKILL by default: a camera that drops, not one that says goodbye). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/**
 * Debian's GStreamer RTSP server (libs/testing/src/rtsp/rtsp-server.py) on a free port of
 * 127.0.0.1, serving `clip` looped at `fps`. Needs gstreamer1.0-plugins-{base,good,bad},
 * gir1.2-gst-rtsp-server-1.0 and python3-gi.
 */
export async function startRtspServer(o: RtspServerOptions): Promise<TestRtspServer> {
  const port = await freePort();
  const path = o.path ?? '/cam';
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const args = [
      join(repoRoot(), 'libs', 'testing', 'src', 'rtsp', 'rtsp-server.py'),
      '--port',
      String(port),
      '--clip',
      o.clip,
      '--fps',
      String(o.fps),
      '--path',
      path,
    ];
    if (o.user) args.push('--user', o.user, '--password', o.password ?? '');
    if (o.tlsCertFile) args.push('--tls-cert', o.tlsCertFile);
    const p = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    exited = new Promise((resolve) => p.once('exit', () => resolve()));
    let stderr = '';
    p.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`RTSP server not ready in ${READY_TIMEOUT_MS} ms: ${stderr}`)),
        READY_TIMEOUT_MS,
      );
      p.stdout!.setEncoding('utf8').on('data', (s: string) => {
        if (s.includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`RTSP server exited: ${stderr}`));
      });
    });
  };
  await start();

  return {
    port,
    url(withCredentials = false) {
      const creds =
        withCredentials && o.user ? `${encodeURIComponent(o.user)}:${encodeURIComponent(o.password ?? '')}@` : '';
      return `${o.tlsCertFile ? 'rtsps' : 'rtsp'}://${creds}127.0.0.1:${port}${path}`;
    },
    pid: () => (proc && proc.exitCode === null && proc.signalCode === null ? proc.pid : undefined),
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    start,
  };
}
