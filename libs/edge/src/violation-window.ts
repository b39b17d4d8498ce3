import type { ErrorCode } from '@vision/wire';

/** Violations count within this window towards `violationsBeforeClose`. */
const VIOLATION_WINDOW_MS = 10_000;
/** Codes a client earns by what it sends (server-side conditions like E_OVERLOADED do not count). */
const VIOLATIONS = new Set<ErrorCode>([
  'E_RATE_LIMITED',
  'E_MESSAGE_TOO_LARGE',
  'E_BAD_MESSAGE',
  'E_BAD_HEADER',
  'E_EMPTY_FRAME',
  'E_FRAME_TOO_LARGE',
  'E_UNSUPPORTED_FORMAT',
  'E_FORBIDDEN',
  'E_UNKNOWN_MODEL',
]);

/** Whether the client earned `code` by what it sent. */
export function isViolation(code: ErrorCode): boolean {
  return VIOLATIONS.has(code);
}

/** A connection's violations within the last `VIOLATION_WINDOW_MS`, against its limit. */
export class ViolationWindow {
  private times: number[] = [];

  constructor(private readonly limit: number) {}

  /** Records a violation; true once the connection has had more than it may within the window. */
  record(now: number): boolean {
    this.times.push(now);
    if (this.times.length > this.limit) {
      this.times = this.times.filter((t) => now - t < VIOLATION_WINDOW_MS);
    }
    return this.times.length > this.limit;
  }
}
