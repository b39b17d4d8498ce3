import { createServer, type Server } from 'node:http';

/** One request as a receiver got it: the raw body, the signature header and when it arrived. */
export interface ReceivedWebhook {
  body: string;
  signature: string;
  at: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hook` */
  url: string;
  port: number;
  server: Server;
  /** Every request so far, in arrival order (recorded on arrival, as a receiver would). */
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

export interface WebhookReceiverOptions {
  /** The status to answer request `n` (from 1) with; 204 when absent. */
  status?: (n: number, request: ReceivedWebhook) => number;
  /** Answer this late. */
  delayMs?: number;
  /** A port of the caller's choosing (a receiver that comes back on the same address); a free one when absent. */
  port?: number;
}

/** An HTTP receiver for webhook deliveries on loopback, for the suites of every service that sends them. */
export async function startWebhookReceiver(opts: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['x-vision-signature'] ?? ''),
        at: Date.now(),
      };
      received.push(request);
      const status = opts.status?.(received.length, request) ?? 204;
      setTimeout(() => res.writeHead(status).end(), opts.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    server,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
