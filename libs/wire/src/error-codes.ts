/**
 * Stable error codes. Clients switch on these strings, so they never change meaning once shipped;
 * `docs/protocol.md` holds the same table for humans.
 *
 * `close` is the WebSocket close code used when the error ends the connection; `null` means the
 * connection and the other frames are unaffected. `http` is the status every HTTP API answers with: the
 * edges' (Nest) and the operator APIs' (libs/http), in one shape, `{ error: { code, message } }`.
 */
export const ERROR_CODES = {
  E_EMPTY_FRAME: { http: 400, retryable: false, close: null, message: 'the frame has no bytes' },
  E_UNSUPPORTED_FORMAT: { http: 415, retryable: false, close: null, message: 'not a JPEG, PNG or WebP image' },
  E_FRAME_TOO_LARGE: { http: 413, retryable: false, close: null, message: 'the frame exceeds the byte limit' },
  E_IMAGE_DECODE: { http: 422, retryable: false, close: null, message: 'the image could not be decoded' },
  E_IMAGE_TOO_LARGE: { http: 422, retryable: false, close: null, message: 'the image exceeds the pixel limit' },
  E_BAD_HEADER: { http: 400, retryable: false, close: null, message: 'the yolo.v1 frame header is malformed' },
  E_BAD_MESSAGE: {
    http: 400,
    retryable: false,
    close: null,
    message: 'the text message is not a known control message',
  },
  E_BAD_REQUEST: { http: 400, retryable: false, close: null, message: 'the request body or parameters are malformed' },
  E_NO_ROUTE: { http: 404, retryable: false, close: null, message: 'no such endpoint' },
  E_METHOD_NOT_ALLOWED: {
    http: 405,
    retryable: false,
    close: null,
    message: 'the endpoint does not take this method (the Allow header lists those it takes)',
  },
  // Operator APIs (gateway, events; libs/http): bounded JSON bodies.
  E_BODY_TOO_LARGE: { http: 413, retryable: false, close: null, message: 'the request body exceeds the byte limit' },
  E_BODY_TIMEOUT: { http: 408, retryable: false, close: null, message: 'the request body did not arrive in time' },
  E_UNSUPPORTED_MEDIA_TYPE: {
    http: 415,
    retryable: false,
    close: null,
    message: 'the request body must be sent as application/json',
  },
  E_DROPPED: {
    http: 409,
    retryable: true,
    close: null,
    message: 'a newer frame replaced this one (latest frame wins)',
  },
  E_OVERLOADED: { http: 429, retryable: true, close: null, message: 'the inference backlog is full' },
  E_EXPIRED: { http: 504, retryable: true, close: null, message: 'the frame deadline passed before inference' },
  E_TIMEOUT: { http: 504, retryable: true, close: null, message: 'no result arrived before the deadline' },
  E_UNAVAILABLE: {
    http: 503,
    retryable: true,
    close: null,
    message: 'the service is unavailable (queue or store unreachable, or no worker for the model); nothing was queued',
  },
  E_QUEUE_LOST: {
    http: 503,
    retryable: true,
    close: null,
    message: 'the queue connection dropped while the frame was open; its result was lost',
  },
  E_DEAD_LETTER: {
    http: 500,
    retryable: false,
    close: null,
    message: 'the frame failed repeatedly and was dead-lettered',
  },
  E_INFERENCE: { http: 500, retryable: true, close: null, message: 'the model failed on this batch' },
  E_RATE_LIMITED: { http: 429, retryable: true, close: null, message: 'rate limit exceeded; retry after retryAfterMs' },
  E_MESSAGE_TOO_LARGE: {
    http: 413,
    retryable: false,
    close: null,
    message: 'text messages are limited to control messages (4 KiB)',
  },
  E_IMAGE_TOO_COSTLY: {
    http: 422,
    retryable: false,
    close: null,
    message:
      'the image encoding is too costly to decode ' +
      '(interlaced, 16-bit or progressive above the pixel limit, or over the decode time budget)',
  },
  E_UNKNOWN_MODEL: {
    http: 404,
    retryable: false,
    close: null,
    message: 'no model with this id is configured (GET /v1/models lists them)',
  },
  E_UPLOAD_TOO_LARGE: {
    http: 413,
    retryable: false,
    close: null,
    message: 'the upload exceeds BULK_MAX_UPLOAD_BYTES or holds more than BULK_MAX_IMAGES images',
  },
  E_JOB_LIMIT: {
    http: 429,
    retryable: true,
    close: null,
    message: 'too many unfinished jobs for these credentials, or the bulk image store is full',
  },
  E_NOT_FOUND: {
    http: 404,
    retryable: false,
    close: null,
    message: 'no such job (it may have expired) or API rule',
  },
  E_FORBIDDEN: {
    http: 403,
    retryable: false,
    close: null,
    message: 'not allowed for these credentials or this origin',
  },
  E_WEBHOOK_FORBIDDEN: {
    http: 403,
    retryable: false,
    close: null,
    message:
      'the webhook host is not allowed: outside the allow-list, or it is or resolves to an address inside the site',
  },
  // Never closes a socket: an upgrade without valid credentials gets no socket, and a refused
  // refresh leaves the connection on its old token (docs/protocol.md, control messages).
  E_UNAUTHORIZED: { http: 401, retryable: false, close: null, message: 'missing or invalid credentials' },
  E_TOKEN_EXPIRED: {
    http: 401,
    retryable: true,
    close: 4401,
    message: 'the token expired; reconnect with a fresh one or send an auth message before expiry',
  },
  E_TOKEN_REVOKED: { http: 401, retryable: false, close: 4401, message: 'the token was revoked' },
  E_TOO_MANY_CONNECTIONS: {
    http: 429,
    retryable: true,
    close: null,
    message: 'too many connections from this address or subject',
  },
  E_EDGE_FULL: { http: 503, retryable: true, close: null, message: 'the edge is at its connection limit; try another' },
  E_IDLE_TIMEOUT: { http: 408, retryable: true, close: 4408, message: 'the connection sent nothing for too long' },
  E_MESSAGE_TIMEOUT: {
    http: 408,
    retryable: false,
    close: 4408,
    message: 'a message did not complete within its time budget',
  },
  E_POLICY_VIOLATION: { http: 429, retryable: false, close: 1008, message: 'the connection kept exceeding its limits' },
  E_SHUTTING_DOWN: { http: 503, retryable: true, close: 1001, message: 'the server is draining; reconnect' },
  E_INTERNAL: { http: 500, retryable: true, close: null, message: 'unexpected server error' },
  // Camera gateway (docs/cameras.md): its HTTP API, and a camera's last error. Never on the edges' wire.
  E_CAMERA_NOT_FOUND: { http: 404, retryable: false, close: null, message: 'no camera with this id on this gateway' },
  E_CAMERA_EXISTS: { http: 409, retryable: false, close: null, message: 'a camera with this id exists' },
  E_CAMERA_INVALID: { http: 400, retryable: false, close: null, message: 'the camera specification is invalid' },
  E_CAMERA_NOT_ASSIGNED: {
    http: 409,
    retryable: false,
    close: null,
    message: 'this camera id belongs to another gateway',
  },
  E_CAMERA_LIMIT: {
    http: 409,
    retryable: false,
    close: null,
    message: 'this gateway serves GATEWAY_MAX_CAMERAS cameras already',
  },
  E_CAMERA_FILE: { http: 503, retryable: true, close: null, message: 'the cameras file could not be read or written' },
  E_CAMERA_NO_FRAME: { http: 503, retryable: true, close: null, message: 'the camera has no frame yet' },
  E_CAMERA_UNREACHABLE: { http: 502, retryable: true, close: null, message: 'the camera could not be reached' },
  E_CAMERA_AUTH: { http: 502, retryable: true, close: null, message: 'the camera refused the credentials' },
  E_CAMERA_NOT_VIDEO: {
    http: 502,
    retryable: true,
    close: null,
    message: 'the URL answered but is not a video source',
  },
  E_CAMERA_BAD_DATA: {
    http: 502,
    retryable: true,
    close: null,
    message: 'the camera sent data that is not a decodable video or JPEG stream',
  },
  E_CAMERA_STALLED: {
    http: 504,
    retryable: true,
    close: null,
    message: 'no frame arrived within CAMERA_STALL_TIMEOUT_MS',
  },
  E_CAMERA_ENDED: { http: 502, retryable: true, close: null, message: 'the source ended its stream' },
  E_CAMERA_FFMPEG_MISSING: { http: 500, retryable: true, close: null, message: 'FFMPEG_PATH cannot be run' },
  E_CAMERA_DECODER: {
    http: 500,
    retryable: true,
    close: null,
    message: 'ffmpeg cannot decode here (FFMPEG_HWACCEL unavailable, or a codec it lacks)',
  },
  // Events service (docs/events.md): its rules API and the site file. Never on the edges' wire.
  E_BAD_RULE: { http: 400, retryable: false, close: null, message: 'the rule is invalid (the field names what)' },
  E_UNKNOWN_CAMERA: {
    http: 404,
    retryable: false,
    close: null,
    message: 'no such camera: not in the site file and not seen on the results stream',
  },
  E_UNKNOWN_CLASS: { http: 422, retryable: false, close: null, message: "the class is not one of the camera model's" },
  E_RULE_IN_SITE_FILE: {
    http: 409,
    retryable: false,
    close: null,
    message: 'the rule is defined in the site file; change it there',
  },
  E_SNAPSHOT_PENDING: {
    http: 503,
    retryable: true,
    close: null,
    message: "the event's snapshot is still being written; ask again shortly (Retry-After)",
  },
  E_SNAPSHOT_UNAVAILABLE: { http: 404, retryable: false, close: null, message: 'the snapshot could not be made' },
  E_CLIP_PENDING: { http: 503, retryable: true, close: null, message: 'the clip is not recorded to its end yet' },
  E_CLIP_UNAVAILABLE: { http: 404, retryable: false, close: null, message: 'no clip can be made of the event' },
  // Backup and restore (docs/backup.md): the tools' codes, never sent by a service.
  E_BACKUP_INVALID: {
    http: 400,
    retryable: false,
    close: null,
    message: 'the file is not an intact backup (corrupt, cut short, or of a newer format)',
  },
  E_BACKUP_TARGET_NOT_EMPTY: {
    http: 409,
    retryable: false,
    close: null,
    message: 'the restore target already holds state or different site files (--force replaces them)',
  },
  // Start-up errors: never sent on the wire, but typed the same way.
  E_MODEL_LOAD: { http: 500, retryable: false, close: null, message: 'the model file cannot be loaded' },
  E_MODEL_LAYOUT: { http: 500, retryable: false, close: null, message: 'the model output layout is not supported' },
  E_MODEL_INVALID: {
    http: 500,
    retryable: false,
    close: null,
    message: 'the model metadata is missing a field, malformed, or names a task this server does not serve',
  },
  E_PROVIDER_UNAVAILABLE: {
    http: 500,
    retryable: false,
    close: null,
    message: 'the requested execution provider cannot load',
  },
  E_CONFIG: { http: 500, retryable: false, close: null, message: 'the configuration is invalid' },
} as const satisfies Record<string, { http: number; retryable: boolean; close: number | null; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/** What a client sees of an error: the code's fixed message, never library text. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** Rate limits: when the same request would next be admitted. */
  retryAfterMs?: number;
}

/**
 * An error that crosses a process or wire boundary: it carries a stable code, never a stack.
 * `message` is for our logs (it may quote a library); clients get the code's fixed message.
 */
export class VisionError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'VisionError';
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  toJSON(): WireError {
    return wireError(this.code, this.retryAfterMs);
  }
}

export function wireError(code: ErrorCode, retryAfterMs?: number): WireError {
  return { code, message: ERROR_CODES[code].message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/** Anything thrown becomes a wire-safe `{code, message}`; unknown errors do not leak internals. */
export function toWireError(err: unknown): WireError {
  if (err instanceof VisionError) return err.toJSON();
  if (err && typeof err === 'object' && isErrorCode((err as { code?: unknown }).code)) {
    const e = err as { code: ErrorCode; retryAfterMs?: unknown };
    return wireError(e.code, typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined);
  }
  return wireError('E_INTERNAL');
}
