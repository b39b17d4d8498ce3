import { setTimeout as sleep } from 'node:timers/promises';
import { CONSOLE_CAMERA, startConsoleSite } from '@vision/testing';

/** The camera whose timeline is watched: it streams the console site's square, and its zone makes events. */
export const EVENTS_CAMERA = CONSOLE_CAMERA;

export interface WallSite {
  /** https:// origin of nginx (the console at /console/, the APIs). */
  origin: string;
  /** The gateway's own API (http://, no nginx): its cameras' stats. */
  gatewayUrl: string;
  redisUrl: string;
  prefix: string;
  /** Every camera id, the events camera first. */
  cameras: string[];
  /** Results shards: the events streams are `<prefix>:events:stream:<shard>`. */
  shards: number;
  stop(): Promise<void>;
}

/** The events service's default RESULTS_SHARDS (libs/config/src/results-config.ts). */
const RESULTS_SHARDS = 8;
/** How long 64 ffmpeg children may take to stream on 2 cores. */
const STREAMING_TIMEOUT_MS = 180_000;

/**
 * The console's site (`startConsoleSite` of libs/testing, the one its tests run on) with `cameras`
 * gateway cameras: `EVENTS_CAMERA` streams the square, every other one is ffmpeg's `testsrc2`
 * pattern (`testsrc://?size=<size>&rate=<fps>`). Resolves once every camera streams.
 */
export async function startWallSite(o: { cameras: number; size: string; fps: number; token: string }) {
  const site = await startConsoleSite({
    moreCameras: Array.from({ length: o.cameras - 1 }, (_, i) => ({
      id: `cam-${String(i + 1).padStart(2, '0')}`,
      url: `testsrc://?size=${o.size}&rate=${o.fps}`,
      fps: o.fps,
    })),
    // One edge connection per camera, all from 127.0.0.1: above the per-address default of 32.
    edgeEnv: { MAX_CONNECTIONS_PER_IP: '1000', MAX_CONNECTIONS_PER_SUBJECT: '1000' },
    gatewayEnv: { GATEWAY_MAX_CAMERAS: String(o.cameras) },
  });
  try {
    const gatewayUrl = `http://127.0.0.1:${site.gateway.port}`;
    await allStreaming(`${gatewayUrl}/v1/cameras`, o.token, site.cameras.length);
    return {
      origin: site.origin,
      gatewayUrl,
      redisUrl: site.redis.redis.url,
      prefix: site.redis.prefix,
      cameras: site.cameras,
      shards: RESULTS_SHARDS,
      stop: site.stop,
    } satisfies WallSite;
  } catch (err) {
    await site.stop();
    throw err;
  }
}

async function allStreaming(url: string, token: string, want: number): Promise<void> {
  const until = Date.now() + STREAMING_TIMEOUT_MS;
  let streaming = 0;
  while (Date.now() < until) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const { cameras } = (await res.json()) as { cameras: { state: string }[] };
    streaming = cameras.filter((c) => c.state === 'streaming').length;
    if (streaming === want) return;
    await sleep(1000);
  }
  throw new Error(`only ${streaming} of ${want} cameras streaming after ${STREAMING_TIMEOUT_MS / 1000} s`);
}
