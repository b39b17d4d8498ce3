import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { AuthConfig, LimitsConfig } from '@vision/config';
import type { VisionMetrics } from '@vision/metrics';
import { VisionError, type ErrorCode } from '@vision/wire';
import type { ConnectionLease, ConnectionLeases } from '@vision/transport';
import type { Socket } from 'node:net';
import { ReadLimiter } from '../read-limiter';
import { anonymousPrincipal, bearerToken } from '@vision/http';
import { clientAddress, originAllowed } from './request-identity';
import { GATEWAY_SCOPE, isGatewayPrincipal, type Principal, type Revocations, type TokenVerifier } from '@vision/auth';

/** A connection that passed the gate: who it is, where from, and the slot it holds. */
export interface Admission {
  principal: Principal;
  ip: string;
  lease: ConnectionLease;
}

/** An HTTP request that passed the gate; `done` gives its slot back (once, however often called). */
export interface RequestAdmission {
  principal: Principal;
  /** How long to pause reading after `bytes` more of the body arrived (the subject's byte rate). */
  throttle: (bytes: number) => number;
  done: () => void;
}

export interface GatekeeperOptions {
  auth: AuthConfig;
  limits: LimitsConfig;
  /** Undefined: authentication disabled, every client is its own address. */
  verifier: TokenVerifier | undefined;
  /** Tokens revoked before they expire (checked after the signature). */
  revocations: Revocations;
  /** Client-caused warnings, throttled per kind. */
  warn: (kind: string, fields: Record<string, unknown>, msg: string) => void;
  leases: ConnectionLeases;
  metrics: VisionMetrics;
  log: Logger;
}

/**
 * The one admission layer in front of WebSocket upgrades and HTTP requests: Origin, bearer token,
 * per-edge connection cap, and connection slots per address and subject (shared across edges).
 * Everything it refuses is refused before a socket is accepted or a body is read.
 */
export class Gatekeeper {
  private readonly address: (req: IncomingMessage) => string;
  private pendingUpgrades = 0;
  private readonly httpInFlight = new Map<string, number>();
  private readonly released = new WeakSet<Admission>();
  private readonly reads: ReadLimiter;
  private connSeq = 0;

  constructor(
    private readonly opts: GatekeeperOptions,
    /** This edge process's random prefix of connection ids. */
    readonly instance: string,
  ) {
    this.address = clientAddress(opts.auth.trustedProxies);
    this.reads = new ReadLimiter(opts.limits);
  }

  /**
   * The checks every request shares: Origin, then credentials. Without authentication the Origin
   * list protects nothing (any page could send the same frames from a script), so any is accepted.
   */
  async authenticate(req: IncomingMessage, ip: string): Promise<Principal> {
    if (!this.opts.verifier) return anonymousPrincipal(ip);
    if (!originAllowed(this.opts.auth, req)) {
      const origin = req.headers.origin;
      this.opts.warn(
        'origin',
        { origin: String(origin ?? '(none)').slice(0, 200) },
        origin === undefined
          ? 'request without an Origin refused: set ALLOW_NO_ORIGIN=true to allow non-browser clients'
          : 'browser Origin refused: add it to ALLOWED_ORIGINS to allow it',
      );
      throw new VisionError('E_FORBIDDEN', `origin ${origin} not allowed`);
    }
    const token = bearerToken(req, 'any');
    if (!token) throw new VisionError('E_UNAUTHORIZED', 'no bearer token');
    return this.checked(await this.opts.verifier.verify(token));
  }

  /**
   * A fresh token sent on an open connection: same subject, and the gateway scope kept or kept away
   * (the connection's slot and limits were taken for one or the other at the upgrade).
   */
  async reauthenticate(current: Principal, token: string): Promise<Principal> {
    if (!this.opts.verifier) throw new VisionError('E_BAD_MESSAGE', 'authentication is disabled on this edge');
    const next = await this.checked(await this.opts.verifier.verify(token));
    if (next.subject !== current.subject)
      throw new VisionError('E_FORBIDDEN', 'a refreshed token must keep the subject');
    if (isGatewayPrincipal(next) !== isGatewayPrincipal(current))
      throw new VisionError('E_FORBIDDEN', `a refreshed token must keep or lack the ${GATEWAY_SCOPE} scope as before`);
    return next;
  }

  private async checked(p: Principal): Promise<Principal> {
    if (p.tokenId !== undefined && (await this.opts.revocations.isRevoked(p.tokenId)))
      throw new VisionError('E_TOKEN_REVOKED');
    return p;
  }

  /**
   * For an HTTP upgrade: resolves with the admission or rejects with a VisionError (its HTTP status
   * applies). `open` is the sockets this edge holds now (the per-edge cap counts them).
   */
  async admitUpgrade(req: IncomingMessage, open: number): Promise<Admission> {
    const l = this.opts.limits;
    if (open + this.pendingUpgrades >= l.maxConnections) throw this.refused(new VisionError('E_EDGE_FULL'));
    this.pendingUpgrades++;
    try {
      const ip = this.address(req);
      const principal = await this.authenticate(req, ip);
      // A camera gateway is many cameras behind one address: its connections count against its
      // subject (MAX_CONNECTIONS_PER_SUBJECT) and take none of the address's slots.
      const lease: ConnectionLease = {
        connId: `${this.instance}${(++this.connSeq).toString(36)}`,
        ip: isGatewayPrincipal(principal) ? undefined : ip,
        subject: principal.subject,
      };
      const got = await this.opts.leases.acquire(lease, {
        perIp: l.maxConnectionsPerIp,
        perSubject: l.maxConnectionsPerSubject,
      });
      if (got !== 'ok') throw new VisionError('E_TOO_MANY_CONNECTIONS', `per-${got} connection limit`);
      return { principal, ip, lease };
    } catch (err) {
      throw this.refused(err);
    } finally {
      this.pendingUpgrades--;
    }
  }

  /**
   * An admitted upgrade's socket: its reads are held to the connection's and the subject's byte
   * rates; a camera gateway's connection is its own subject here (one camera's bytes).
   */
  limitReads(socket: Socket, a: Admission): void {
    const p = a.principal;
    this.reads.attach(socket, isGatewayPrincipal(p) ? `${p.subject}#${a.lease.connId}` : p.subject);
  }

  /** Gives the connection slot back; safe to call from every path that ends a connection. */
  release(a: Admission): void {
    if (this.released.has(a)) return;
    this.released.add(a);
    void this.opts.leases.release(a.lease);
  }

  /**
   * For `POST /v1/detect`: authenticates and holds one of the address's concurrent-request slots
   * (same limit as its connections, counted on this edge) and a share of the subject's byte rate
   * until `done` is called.
   */
  async admitRequest(req: IncomingMessage): Promise<RequestAdmission> {
    const ip = this.address(req);
    try {
      const principal = await this.authenticate(req, ip);
      const n = this.httpInFlight.get(ip) ?? 0;
      if (n >= this.opts.limits.maxConnectionsPerIp)
        throw new VisionError('E_TOO_MANY_CONNECTIONS', 'per-ip request limit');
      this.httpInFlight.set(ip, n + 1);
      const subject = principal.subject;
      this.reads.hold(subject);
      let released = false;
      return {
        principal,
        throttle: (bytes) => this.reads.bodyBytes(subject, bytes),
        done: () => {
          if (released) return;
          released = true;
          this.reads.release(subject);
          const left = (this.httpInFlight.get(ip) ?? 1) - 1;
          if (left > 0) this.httpInFlight.set(ip, left);
          else this.httpInFlight.delete(ip);
        },
      };
    } catch (err) {
      throw this.refused(err);
    }
  }

  /** Counts a refusal by code; the reason (library text included) goes to our debug log only. */
  refused(err: unknown): VisionError {
    const e = err instanceof VisionError ? err : new VisionError('E_INTERNAL', String(err));
    this.count(e.code);
    this.opts.log.debug({ code: e.code, reason: e.message }, 'refused');
    return e;
  }

  count(code: ErrorCode): void {
    this.opts.metrics.edgeRejections.inc({ code });
  }
}
