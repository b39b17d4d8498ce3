import type { ResultReply, WireError } from '@vision/wire';
import type { BackoffOptions } from './backoff';

/** The WebSocket surface the client uses: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Opens a socket. `headers` is set only for Node (`ws`); browsers cannot send headers. */
export type WebSocketFactory = (
  url: string,
  protocols: string[],
  headers: Record<string, string> | undefined,
) => WebSocketLike;

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** How a frame ended: exactly one per `send`. */
export type FrameOutcome =
  | { status: 'result'; result: ResultReply; latencyMs: number }
  | { status: 'error'; error: WireError | { code: 'E_CONNECTION_LOST'; message: string }; frameId: number }
  | { status: 'skipped' };

export interface VisionClientOptions {
  /** ws:// or wss:// URL of the edge's /ws/detect (behind a load balancer), or several edges tried in turn. */
  url: string | string[];
  /**
   * The model every frame of this client goes to (`?model=`; GET /v1/models lists them).
   * @defaultValue the site's default
   */
  model?: string;
  /** A bearer token, or a function that returns a fresh one (called before each connection and before expiry). */
  token?: string | (() => string | Promise<string>);
  /**
   * Browsers: `protocol` (Sec-WebSocket-Protocol); Node: `header`.
   * @defaultValue 'protocol' with the browser's WebSocket, else 'header'
   */
  tokenIn?: 'protocol' | 'header' | 'query';
  /** @defaultValue the browser's WebSocket */
  webSocket?: WebSocketFactory;
  backoff?: BackoffOptions;
  /** A ping every so often; a server silent for twice that is presumed dead. @defaultValue 15000 */
  heartbeatMs?: number;
  /**
   * Frames open when a socket drops are resent once if younger than this, else reported
   * `E_CONNECTION_LOST`.
   * @defaultValue 1000
   */
  resendWithinMs?: number;
  /** Refresh the token this long before it expires. @defaultValue 30000 */
  refreshBeforeMs?: number;
  now?: () => number;
}

/** The SDK's defaults, in one place (the options above document them). */
export const CLIENT_DEFAULTS = {
  heartbeatMs: 15_000,
  resendWithinMs: 1000,
  refreshBeforeMs: 30_000,
  /** The stream of frames sent without one. */
  streamId: 'default',
  /** The pause before asking the token provider again when its last token was no newer. */
  refreshRetryMs: 5000,
  now: Date.now,
} as const;

/** The options with the defaults filled in. */
export type ResolvedOptions = VisionClientOptions & {
  heartbeatMs: number;
  resendWithinMs: number;
  refreshBeforeMs: number;
  now: () => number;
};

export function browserWebSocket(url: string, protocols: string[]): WebSocketLike {
  const Ctor = (globalThis as unknown as { WebSocket?: new (u: string, p: string[]) => WebSocketLike }).WebSocket;
  if (!Ctor) throw new Error('no global WebSocket: pass `webSocket` (e.g. from the ws package) in Node');
  return new Ctor(url, protocols);
}
