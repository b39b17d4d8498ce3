import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { AppConfig } from '@vision/config';
import type { VisionMetrics } from '@vision/metrics';
import type { EdgeTransport } from '@vision/transport';

/**
 * Decides whether an HTTP upgrade may become a WebSocket. The seam for authentication (JWT, API
 * keys): return `{ ok: false, status: 401 }` to refuse before any frame is accepted.
 */
export type UpgradeAuthorizer = (req: IncomingMessage) => Promise<{ ok: true } | { ok: false; status: number; message?: string }>;

export const allowAll: UpgradeAuthorizer = async () => ({ ok: true });

/** Everything the edge module is built from; provided once under `EDGE_CONTEXT`. */
export interface EdgeContext {
  config: AppConfig;
  transport: EdgeTransport;
  metrics: VisionMetrics;
  log: Logger;
  authorize: UpgradeAuthorizer;
  /** Extra readiness checks (the embedded server adds "model loaded"). */
  readiness?: () => Promise<Record<string, boolean>>;
}

export const EDGE_CONTEXT = Symbol('EDGE_CONTEXT');
