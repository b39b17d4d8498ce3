/**
 * Stable error codes. Clients switch on these strings, so they never change meaning once shipped;
 * `docs/protocol.md` holds the same table for humans.
 *
 * `close` is the WebSocket close code used when the error ends the connection; `null` means the
 * connection and the other frames are unaffected. `http` is the status `POST /v1/detect` answers with.
 */
export const ERROR_CODES = {
  E_EMPTY_FRAME: { http: 400, retryable: false, close: null, message: 'the frame has no bytes' },
  E_UNSUPPORTED_FORMAT: { http: 415, retryable: false, close: null, message: 'not a JPEG, PNG or WebP image' },
  E_FRAME_TOO_LARGE: { http: 413, retryable: false, close: null, message: 'the frame exceeds the byte limit' },
  E_IMAGE_DECODE: { http: 422, retryable: false, close: null, message: 'the image could not be decoded' },
  E_IMAGE_TOO_LARGE: { http: 422, retryable: false, close: null, message: 'the image exceeds the pixel limit' },
  E_BAD_HEADER: { http: 400, retryable: false, close: null, message: 'the yolo.v1 frame header is malformed' },
  E_BAD_MESSAGE: { http: 400, retryable: false, close: null, message: 'the text message is not a known control message' },
  E_DROPPED: { http: 409, retryable: true, close: null, message: 'a newer frame replaced this one (latest frame wins)' },
  E_OVERLOADED: { http: 429, retryable: true, close: null, message: 'the inference backlog is full' },
  E_EXPIRED: { http: 504, retryable: true, close: null, message: 'the frame deadline passed before inference' },
  E_TIMEOUT: { http: 504, retryable: true, close: null, message: 'no result arrived before the deadline' },
  E_UNAVAILABLE: { http: 503, retryable: true, close: null, message: 'the queue is unreachable; the frame fate is unknown' },
  E_DEAD_LETTER: { http: 500, retryable: false, close: null, message: 'the frame failed repeatedly and was dead-lettered' },
  E_INFERENCE: { http: 500, retryable: true, close: null, message: 'the model failed on this batch' },
  E_SHUTTING_DOWN: { http: 503, retryable: true, close: 1001, message: 'the server is draining; reconnect' },
  E_PROTOCOL: { http: 400, retryable: false, close: 1002, message: 'unsupported sub-protocol or message type' },
  E_INTERNAL: { http: 500, retryable: true, close: null, message: 'unexpected server error' },
  // Start-up errors: never sent on the wire, but typed the same way.
  E_MODEL_LOAD: { http: 500, retryable: false, close: null, message: 'the model file cannot be loaded' },
  E_MODEL_LAYOUT: { http: 500, retryable: false, close: null, message: 'the model output layout is not supported' },
  E_PROVIDER_UNAVAILABLE: { http: 500, retryable: false, close: null, message: 'the requested execution provider cannot load' },
  E_CONFIG: { http: 500, retryable: false, close: null, message: 'the configuration is invalid' },
} as const satisfies Record<string, { http: number; retryable: boolean; close: number | null; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/** An error that crosses a process or wire boundary: it carries a stable code, never a stack. */
export class VisionError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'VisionError';
    this.code = code;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Anything thrown becomes a wire-safe `{code, message}`; unknown errors do not leak internals. */
export function toWireError(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof VisionError) return err.toJSON();
  return { code: 'E_INTERNAL', message: ERROR_CODES.E_INTERNAL.message };
}
