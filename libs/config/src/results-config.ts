import { z } from 'zod';
import { ConfigError, type Env } from './settings';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * The results stream (docs/events.md): workers append every camera frame's detections to it and the
 * events service reads them. Both sides load this schema, so they agree on the shards.
 */
const schema = z.object({
  RESULTS_STREAM: bool.default(true),
  RESULTS_SHARDS: z.coerce.number().int().min(1).max(1024).default(8),
  // Approximate (XADD MAXLEN ~) entries kept per shard: how far an events instance may fall behind.
  RESULTS_MAXLEN: z.coerce.number().int().min(100).max(10_000_000).default(10_000),
  // The low-score tier ByteTrack recovers occluded objects from; boxes below CONF_THRESHOLD down to this.
  TRACK_LOW_THRESHOLD: z.coerce.number().min(0).max(1).default(0.1),
});

export interface ResultsConfig {
  /** Whether workers append to the results stream at all. */
  enabled: boolean;
  shards: number;
  maxLen: number;
  trackLowThreshold: number;
}

/** Validates the results-stream settings of `env`; errors name the variable. */
export function loadResultsConfig(env: Env = process.env): ResultsConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  return { enabled: e.RESULTS_STREAM, shards: e.RESULTS_SHARDS, maxLen: e.RESULTS_MAXLEN, trackLowThreshold: e.TRACK_LOW_THRESHOLD };
}
