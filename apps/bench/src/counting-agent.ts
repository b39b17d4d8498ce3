import { Agent, type AgentOptions } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An HTTP agent that remembers every socket it opened, so a benchmark can count the bytes that
 * really crossed the wire (HTTP headers, WebSocket framing and handshakes included).
 */
export class CountingAgent extends Agent {
  private readonly all = new Set<Socket>();

  constructor(opts: AgentOptions = {}) {
    super(opts);
  }

  override createConnection(...args: Parameters<Agent['createConnection']>): ReturnType<Agent['createConnection']> {
    const socket = super.createConnection(...args);
    if (socket) this.all.add(socket as Socket);
    return socket;
  }

  get bytes(): { written: number; read: number } {
    let written = 0;
    let read = 0;
    for (const s of this.all) {
      written += s.bytesWritten;
      read += s.bytesRead;
    }
    return { written, read };
  }
}
