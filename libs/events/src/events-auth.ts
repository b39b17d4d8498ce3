import type { IncomingMessage } from 'node:http';
import { streamAllowed, TokenVerifier, type Principal } from '@vision/auth';
import type { AuthConfig } from '@vision/config';
import { authenticate, type TokenSources } from '@vision/http';

/** Reading events and counts; changing rules. */
export const READ_SCOPE = 'events:read';
export const WRITE_SCOPE = 'events:write';

/**
 * Who a request acts as (libs/http's bearer authentication): a bearer JWT verified by TokenVerifier
 * (header; for the WebSocket feed also the `bearer.<token>` subprotocol or `?token=`, since browsers
 * cannot set headers), or, with AUTH_DISABLED=true, anyone. No anonymous mode otherwise.
 */
export class EventsAuth {
  /** Undefined: authentication is off. */
  readonly verifier: TokenVerifier | undefined;

  constructor(cfg: AuthConfig) {
    this.verifier = cfg.disabled === true ? undefined : TokenVerifier.create(cfg);
  }

  get enabled(): boolean {
    return this.verifier !== undefined;
  }

  principal(req: IncomingMessage, scope: string, sources: TokenSources): Promise<Principal> {
    return authenticate(req, scope, { verifier: this.verifier, sources });
  }

  cameraAllowed(p: Principal, camera: string): boolean {
    return streamAllowed(p, camera);
  }
}
