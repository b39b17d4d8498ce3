import type { Socket } from 'node:net';
import { TokenBucket } from '@vision/transport';

const holds = new WeakMap<Socket, Set<string>>();

/**
 * Stops reading `socket` for `reason` (a byte rate, the unfinished-message budget). Reading goes on
 * only once every reason has let go, so one rule never resumes what another paused.
 */
export function holdReads(socket: Socket, reason: string): void {
  let set = holds.get(socket);
  if (!set) holds.set(socket, (set = new Set()));
  set.add(reason);
  socket.pause();
}

export function releaseReads(socket: Socket, reason: string): void {
  const set = holds.get(socket);
  if (!set?.delete(reason) || set.size > 0 || socket.destroyed) return;
  socket.resume();
}

/**
 * Bytes per second a connection, and a subject's connections on this edge together, may send.
 * Enforced where it costs nothing: a socket over its rate is paused (TCP backpressure reaches the
 * sender), so a bandwidth flood cannot buy edge CPU for framing and unmasking.
 */
export class ReadLimiter {
  private readonly subjects = new Map<string, { bucket: TokenBucket; sockets: number }>();

  constructor(private readonly limits: { bytesPerSecond: number; subjectBytesPerSecond: number }) {}

  attach(socket: Socket, subject: string): void {
    const own = new TokenBucket(this.limits.bytesPerSecond);
    const sub = this.hold(subject);
    let resumeAt = 0;
    socket.on('data', (chunk: Buffer) => {
      const wait = Math.max(own.consume(chunk.length), sub.bucket.consume(chunk.length));
      if (wait <= 0 || Date.now() + wait <= resumeAt) return;
      resumeAt = Date.now() + wait;
      holdReads(socket, 'rate');
      setTimeout(() => releaseReads(socket, 'rate'), wait).unref();
    });
    socket.once('close', () => this.release(subject));
  }

  /**
   * For an HTTP body: how long to pause reading after `bytes` more arrived (0: go on). HTTP sockets
   * are left to the HTTP parser; the request stream is paused instead.
   */
  bodyBytes(subject: string, bytes: number): number {
    return this.subjects.get(subject)?.bucket.consume(bytes) ?? 0;
  }

  /** Counts a user of the subject's shared bucket (a socket or a request body); `release` ends it. */
  hold(subject: string): { bucket: TokenBucket; sockets: number } {
    let shared = this.subjects.get(subject);
    if (!shared)
      this.subjects.set(subject, (shared = { bucket: new TokenBucket(this.limits.subjectBytesPerSecond), sockets: 0 }));
    shared.sockets++;
    return shared;
  }

  release(subject: string): void {
    const shared = this.subjects.get(subject);
    if (shared && --shared.sockets === 0) this.subjects.delete(subject);
  }
}
