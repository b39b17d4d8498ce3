import type { IncomingMessage } from 'node:http';
import { hasScope, streamAllowed, TokenVerifier, type Principal } from '@vision/auth';
import type { AuthConfig } from '@vision/config';

/** Reading events and counts; changing rules. */
export const READ_SCOPE = 'events:read';
export const WRITE_SCOPE = 'events:write';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  toJSON() {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
}

/**
 * Who a request acts as: a bearer JWT (header; for WebSockets also the `bearer.<token>` subprotocol
 * or `?token=`, since browsers cannot set headers) verified by TokenVerifier, or, with
 * AUTH_DISABLED=true, anyone. The events service has no anonymous mode otherwise.
 */
export class EventsAuth {
  private readonly verifier: TokenVerifier | undefined;

  constructor(cfg: AuthConfig) {
    this.verifier = cfg.disabled === true ? undefined : TokenVerifier.create(cfg);
  }

  get enabled(): boolean {
    return this.verifier !== undefined;
  }

  async principal(req: IncomingMessage, scope: string, url: URL, websocket = false): Promise<Principal> {
    if (!this.verifier)
      return {
        subject: `ip:${req.socket.remoteAddress ?? '?'}`,
        streams: undefined,
        models: undefined,
        expiresAt: undefined,
        scopes: undefined,
        tokenId: undefined,
      };
    const token = tokenOf(req, url, websocket);
    if (!token) throw new ApiError(401, 'E_UNAUTHORIZED', 'a bearer token is required');
    let p: Principal;
    try {
      p = await this.verifier.verify(token);
    } catch (err) {
      const code = (err as { code?: string }).code === 'E_TOKEN_EXPIRED' ? 'E_TOKEN_EXPIRED' : 'E_UNAUTHORIZED';
      throw new ApiError(401, code, code === 'E_TOKEN_EXPIRED' ? 'the token expired' : 'the token was refused');
    }
    if (!hasScope(p, scope, true)) throw new ApiError(403, 'E_FORBIDDEN', `the token lacks the ${scope} scope`);
    return p;
  }

  cameraAllowed(p: Principal, camera: string): boolean {
    return streamAllowed(p, camera);
  }
}

function tokenOf(req: IncomingMessage, url: URL, websocket: boolean): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  if (!websocket) return undefined;
  const proto = req.headers['sec-websocket-protocol']
    ?.split(',')
    .map((s) => s.trim())
    .find((s) => s.startsWith('bearer.'));
  return proto?.slice(7) ?? url.searchParams.get('token') ?? undefined;
}
