import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadLimiter } from '../src/read-limiter';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** A server socket with the limiter attached, and a client that writes `bytes` at once. */
async function pair(
  limiter: ReadLimiter,
  subject: string,
): Promise<{ received: Promise<number>; write: (n: number) => void }> {
  let accepted!: (s: Socket) => void;
  const got = new Promise<Socket>((r) => (accepted = r));
  const server = createServer((s) => accepted(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
  const socket = await got;
  closers.push(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  limiter.attach(socket, subject);
  let expected = 0;
  let total = 0;
  const t0 = Date.now();
  const received = new Promise<number>((resolve) =>
    socket.on('data', (c: Buffer) => (total += c.length) >= expected && resolve(Date.now() - t0)),
  );
  return { received, write: (n) => ((expected = n), client.write(Buffer.alloc(n, 1))) };
}

describe('ReadLimiter', () => {
  it('holds a connection to its byte rate by pausing the socket', async () => {
    const limiter = new ReadLimiter({ bytesPerSecond: 256 * 1024, subjectBytesPerSecond: 64 * 1024 * 1024 });
    const { received, write } = await pair(limiter, 'a');
    write(768 * 1024); // one second of burst, then two seconds of debt to pay
    expect(await received).toBeGreaterThanOrEqual(1500);
  });

  it("shares the subject's rate between its sockets, and not with other subjects", async () => {
    const limiter = new ReadLimiter({ bytesPerSecond: 64 * 1024 * 1024, subjectBytesPerSecond: 256 * 1024 });
    const a = await pair(limiter, 'hog');
    const b = await pair(limiter, 'hog');
    const c = await pair(limiter, 'camera');
    for (const p of [a, b, c]) p.write(384 * 1024);
    const [ta, tb, tc] = await Promise.all([a.received, b.received, c.received]);
    expect(Math.max(ta, tb)).toBeGreaterThanOrEqual(1500); // 768 KiB at 256 KiB/s with one second of burst
    expect(tc).toBeLessThan(1000); // a burst within the other subject's own budget
  });
});
