import type { Logger } from 'pino';
import type { AppConfig } from '@vision/config';
import type { VisionMetrics } from '@vision/metrics';
import type { ConnectionLeases, EdgeTransport } from '@vision/transport';
import type { BulkJobs } from '@vision/bulk';
import type { ModelCatalog } from './model-catalog';
import type { Revocations, TokenVerifier } from '@vision/auth';

/** Everything the edge module is built from; provided once under `EDGE_CONTEXT`. */
export interface EdgeContext {
  config: AppConfig;
  transport: EdgeTransport;
  leases: ConnectionLeases;
  /** Undefined: authentication disabled (only by AUTH_DISABLED=true, or the embedded demo). */
  verifier: TokenVerifier | undefined;
  /** Tokens revoked before they expire. */
  revocations: Revocations;
  /** Warnings clients can cause, throttled per kind. */
  warn: (kind: string, fields: Record<string, unknown>, msg: string) => void;
  metrics: VisionMetrics;
  log: Logger;
  /** The models clients may choose (the site's repository). */
  catalog: ModelCatalog;
  /** Bulk jobs (Redis only; the embedded server answers them E_UNAVAILABLE). */
  bulk?: BulkJobs;
  /** Extra readiness checks (the embedded server adds "model loaded"). */
  readiness?: () => Promise<Record<string, boolean>>;
}

export const EDGE_CONTEXT = Symbol('EDGE_CONTEXT');
