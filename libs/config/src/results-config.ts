import { z } from 'zod';
import { bool, int, setting, type Loaded } from './settings';

/**
 * The results stream (docs/events.md): workers append every camera frame's detections to it and the
 * events service reads them. Both load these settings, so they agree on the shards.
 */
export const RESULTS_SETTINGS = {
  /** Whether workers append to the results stream at all. */
  enabled: setting('RESULTS_STREAM', bool.default(true)),
  shards: setting('RESULTS_SHARDS', int(1, 1024).default(8)),
  // Approximate (XADD MAXLEN ~) entries kept per shard: how far an events instance may fall behind.
  maxLen: setting('RESULTS_MAXLEN', int(100, 10_000_000).default(10_000)),
  // The low-score tier ByteTrack recovers occluded objects from; boxes below CONF_THRESHOLD down to this.
  trackLowThreshold: setting('TRACK_LOW_THRESHOLD', z.coerce.number<string>().min(0).max(1).default(0.1)),
} as const;

export type ResultsConfig = Loaded<typeof RESULTS_SETTINGS>;
