import type { Principal } from '@vision/auth';
import type { ErrorCode, HelloMessage } from '@vision/wire';
import type { ClientSession } from './client-session';
import type { FrameLedger } from './frame-ledger';

export interface SessionLimits {
  maxInFlight: number;
  maxFrameBytes: number;
  deadlineMs: number;
  messagesPerSecond: number;
  framesPerSecond: number;
  violationsBeforeClose: number;
  /** Token expiry grace (the verifier's clock skew). */
  clockSkewMs: number;
  costUnitPixels: number;
}

/** How a session reaches the rest of the edge. */
export interface SessionHost {
  readonly ledger: FrameLedger;
  /** Called once per frame with its terminal outcome, for metrics. */
  answered(outcome: 'result' | ErrorCode, receivedAt: number, streamId?: string): void;
  /** A limit or policy refused something this session sent. */
  rejected(code: ErrorCode): void;
  hello(session: ClientSession): HelloMessage;
  /** Throws `E_UNKNOWN_MODEL` or `E_FORBIDDEN`. */
  chooseModel(principal: Principal, choice: string): { id: string; version: string };
  reauthenticate(current: Principal, token: string): Promise<Principal>;
}
