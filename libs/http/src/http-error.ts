import { VisionError, type ErrorCode } from '@vision/wire';

/**
 * An error an API raises for its client: its message is written for the caller (it names a field,
 * a limit or a scope) and is answered as is, beside `field` when there is one. Any other error is
 * answered with its code's fixed message from the table.
 */
export class HttpError extends VisionError {
  readonly field: string | undefined;
  /** Response headers the answer needs (`Allow` for 405). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options?: { field?: string; headers?: Record<string, string> }) {
    super(code, message);
    this.name = 'HttpError';
    this.field = options?.field;
    this.headers = options?.headers ?? {};
  }
}
