import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { GATEWAY_SCOPE, mintToken } from '@vision/auth';
import { VisionClient, type WebSocketLike } from '@vision/client';
import type { AuthConfig, GatewayConfig } from '@vision/config';
import { throttledWarn } from '@vision/runtime';

/** Opens the edge connection of one camera. */
export type EdgeLinkFactory = (cameraId: string, model: string | undefined) => VisionClient;

/** Longest token file read (a JWT is a few hundred bytes). */
const MAX_TOKEN_FILE_BYTES = 16 * 1024;

const nodeWebSocket = (url: string, protocols: string[], headers: Record<string, string> | undefined) =>
  new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike;

/**
 * One `VisionClient` per camera, its stream id the camera id. Per camera rather than one shared
 * client: an edge's window (MAX_IN_FLIGHT), frame rate limit and model are per connection, so
 * cameras sharing one would take each other's slots and get frames dropped by the edge, could not
 * each choose a model, and a camera's removal could not simply close its socket.
 *
 * Tokens: with JWT_SECRET the gateway mints its own (subject `gateway-<index>`, `streams` = this
 * camera's id, the `gateway` scope, GATEWAY_TOKEN_TTL_S), refreshed by the client before they
 * expire; with GATEWAY_TOKEN_FILE the file is read at every connect and refresh; otherwise no token
 * (edges with auth off). The scope lets an edge count the cameras per subject, not per address.
 */
export function edgeLinkFactory(gw: GatewayConfig, auth: AuthConfig, log: Logger): EdgeLinkFactory {
  const warn = throttledWarn(log);
  const token = tokenSource(gw, auth, (cameraId, err) =>
    warn('token', { camera: cameraId, err }, 'no edge token: connecting without one'),
  );
  return (cameraId, model) =>
    new VisionClient({
      url: gw.edgeUrls,
      webSocket: nodeWebSocket,
      tokenIn: 'header',
      backoff: {
        initialMs: gw.backoff.initialMs,
        factor: gw.backoff.factor,
        maxMs: gw.backoff.maxMs,
        jitter: gw.backoff.jitter,
        stableMs: gw.backoff.stableMs,
      },
      ...(model !== undefined ? { model } : {}),
      ...(token ? { token: () => token(cameraId) } : {}),
    });
}

/**
 * The token for a camera's next connection. Never throws (the client would be left without a
 * connection): a failure is logged and the connection goes without a token, which the edge refuses
 * and the client retries with backoff.
 */
function tokenSource(
  gw: GatewayConfig,
  auth: AuthConfig,
  onError: (cameraId: string, err: string) => void,
): ((cameraId: string) => Promise<string>) | undefined {
  const secret = auth.secret;
  if (secret) {
    return async (cameraId) => {
      try {
        const claims = {
          subject: `gateway-${gw.index}`,
          streams: [cameraId],
          scopes: [GATEWAY_SCOPE],
          ttlS: gw.tokenTtlS,
          ...(auth.issuer ? { issuer: auth.issuer } : {}),
          ...(auth.audience ? { audience: auth.audience } : {}),
        };
        return (await mintToken(claims, { secret })).token;
      } catch (err) {
        onError(cameraId, (err as Error).message);
        return '';
      }
    };
  }
  const file = gw.tokenFile;
  if (!file) return undefined;
  return async (cameraId) => {
    try {
      const handle = await open(file, 'r');
      const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0).finally(() => handle.close());
      const text = buf.subarray(0, bytesRead).toString('utf8').trim();
      if (!text) throw new Error('the token file is empty');
      return text;
    } catch (err) {
      onError(cameraId, `GATEWAY_TOKEN_FILE: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return '';
    }
  };
}
