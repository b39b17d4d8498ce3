import WebSocket from 'ws';

/** A WebSocket test client that records every message and close, with awaitable helpers. */
export class TestClient {
  readonly messages: unknown[] = [];
  closeCode: number | undefined;
  private waiters: { n: number; resolve: () => void }[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(url: string, protocol?: string) {
    this.ws = new WebSocket(url, protocol ? [protocol] : []);
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

  send(data: Buffer | string): void {
    this.ws.send(data);
  }

  /** Resolves once `n` messages in total have arrived (or rejects after `timeoutMs`). */
  async waitFor(n: number, timeoutMs = 10_000): Promise<unknown[]> {
    if (this.messages.length < n) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`got ${this.messages.length} of ${n} messages: ${JSON.stringify(this.messages).slice(0, 500)}`)), timeoutMs);
        this.waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    }
    return this.messages.slice(0, n);
  }

  close(): void {
    this.ws.close();
  }
}
