import WebSocket, { type ClientOptions } from 'ws';

/** A WebSocket test client that records every message and close, with awaitable helpers. */
export class TestClient {
  readonly messages: unknown[] = [];
  closeCode: number | undefined;
  private waiters: { n: number; resolve: () => void }[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(url: string, protocol?: string | string[], options?: ClientOptions) {
    this.ws = new WebSocket(
      url,
      protocol === undefined ? [] : Array.isArray(protocol) ? protocol : [protocol],
      options,
    );
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
    this.ws.on('message', (data, isBinary) => {
      this.messages.push(isBinary ? data : JSON.parse(String(data)));
      this.waiters = this.waiters.filter((w) => (this.messages.length >= w.n ? (w.resolve(), false) : true));
    });
  }

  send(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  /** Messages of `type` (yolo.v1 JSON replies) so far. */
  ofType(type: string): Record<string, unknown>[] {
    return this.messages.filter((m) => (m as { type?: unknown })?.type === type) as Record<string, unknown>[];
  }

  /** Resolves once `n` messages in total have arrived (or rejects after `timeoutMs`). */
  async waitFor(n: number, timeoutMs = 10_000): Promise<unknown[]> {
    if (this.messages.length < n) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(`got ${this.messages.length} of ${n} messages: ${JSON.stringify(this.messages).slice(0, 500)}`),
            ),
          timeoutMs,
        );
        this.waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    }
    return this.messages.slice(0, n);
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Tries a WebSocket upgrade: resolves with the open socket, or with the HTTP status and body of a
 * refused upgrade (the edge refuses before any socket exists).
 */
export function tryUpgrade(
  url: string,
  protocols: string[] = [],
  options: ClientOptions = {},
): Promise<
  { ok: true; ws: WebSocket } | { ok: false; status: number; body: string; headers: Record<string, unknown> }
> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once('open', () => resolve({ ok: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    ws.once('error', (err) => reject(err));
  });
}
