import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MjpegServerOptions {
  /** JPEGs played in a loop at `fps` (frame i at i/fps seconds). */
  frames: Buffer[];
  fps: number;
  /** Basic authentication on every route. */
  user?: string;
  password?: string;
}

export interface TestMjpegServer {
  port: number;
  /** http://127.0.0.1:<port><path>, with the credentials when `withCredentials`. */
  url(path: string, withCredentials?: boolean): string;
  /** Responses being streamed right now (multipart and garbage). */
  openStreams(): number;
  stop(): Promise<void>;
}

const BOUNDARY = 'vision-test-frame';

/**
 * An HTTP camera on 127.0.0.1, like the ones IP cameras embed:
 * - `/stream.mjpg`: `multipart/x-mixed-replace` MJPEG at `fps` (a slow reader gets the newest frame);
 * - `/snapshot.jpg`: the current frame as `image/jpeg`;
 * - `/garbage.mjpg`: the multipart content type, then random bytes forever (a broken camera);
 * - `/silent.mjpg`: the multipart content type, then nothing (a camera that hangs);
 * - `/page.html`: an HTML page (a URL that is not a video source).
 */
export async function startMjpegServer(o: MjpegServerOptions): Promise<TestMjpegServer> {
  const t0 = Date.now();
  const current = () => o.frames[Math.floor(((Date.now() - t0) * o.fps) / 1000) % o.frames.length];
  const open = new Set<ServerResponse>();
  const expected = o.user ? `Basic ${Buffer.from(`${o.user}:${o.password ?? ''}`).toString('base64')}` : undefined;

  const server = createServer((req, res) => {
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="camera"' }).end();
      return;
    }
    const stream = (write: () => void, everyMs: number) => {
      open.add(res);
      write();
      const timer = setInterval(() => {
        // Latest frame wins: a reader that has not taken the last one yet skips this one.
        if (!res.writableNeedDrain) write();
      }, everyMs);
      res.on('close', () => {
        clearInterval(timer);
        open.delete(res);
      });
    };
    switch (req.url) {
      case '/stream.mjpg':
        res.writeHead(200, {
          'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
          'cache-control': 'no-store',
        });
        stream(() => {
          const f = current();
          res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.length}\r\n\r\n`);
          res.write(f);
          res.write('\r\n');
        }, 1000 / o.fps);
        break;
      case '/snapshot.jpg': {
        const f = current();
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': f.length }).end(f);
        break;
      }
      case '/garbage.mjpg':
        res.writeHead(200, { 'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}` });
        stream(() => res.write(randomBytes(64 * 1024)), 20);
        break;
      case '/silent.mjpg':
        res.writeHead(200, { 'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}` });
        res.flushHeaders();
        open.add(res);
        res.on('close', () => open.delete(res));
        break;
      case '/page.html':
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end('<!doctype html><title>camera admin</title><p>Welcome</p>');
        break;
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url(path, withCredentials = false) {
      const creds =
        withCredentials && o.user ? `${encodeURIComponent(o.user)}:${encodeURIComponent(o.password ?? '')}@` : '';
      return `http://${creds}127.0.0.1:${port}${path}`;
    },
    openStreams: () => open.size,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
