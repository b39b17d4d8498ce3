import { PROTOCOL_V1 } from '@vision/wire';
import { browserWebSocket, type FrameOutcome, type ResolvedOptions, type WebSocketLike } from './client-options';

/** A frame the client sent and has not yet had an answer for. */
export interface Outgoing {
  frameId: number;
  streamId: string;
  image: Uint8Array;
  captureTs: number | undefined;
  sentAt: number;
  resent: boolean;
  resolve: (o: FrameOutcome) => void;
}

/** One socket and the frames it holds open. */
export interface Conn {
  ws: WebSocketLike;
  ready: boolean;
  open: Map<number, Outgoing>;
  lastHeard: number;
  /** When the connection's token expires, as the edge last said (hello or refresh). */
  tokenExpiresAt?: number;
}

/** Opens a socket to the `urlIndex`th URL (round-robin), with the token where `tokenIn` puts it. */
export function dial(o: ResolvedOptions, token: string | undefined, urlIndex: number): WebSocketLike {
  const factory = o.webSocket ?? browserWebSocket;
  const tokenIn = o.tokenIn ?? (o.webSocket ? 'header' : 'protocol');
  const protocols = [PROTOCOL_V1, ...(token && tokenIn === 'protocol' ? [`bearer.${token}`] : [])];
  const urls = Array.isArray(o.url) ? o.url : [o.url];
  const query = [
    ...(o.model !== undefined ? [`model=${encodeURIComponent(o.model)}`] : []),
    ...(token && tokenIn === 'query' ? [`token=${encodeURIComponent(token)}`] : []),
  ];
  const base = urls[urlIndex % urls.length];
  const url = query.length ? `${base}${base.includes('?') ? '&' : '?'}${query.join('&')}` : base;
  return factory(url, protocols, token && tokenIn === 'header' ? { authorization: `Bearer ${token}` } : undefined);
}
