import { Catch, HttpException, NotFoundException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { ERROR_CODES, VisionError, wireError, type ErrorCode } from '@vision/wire';

/**
 * Whatever the framework throws on its own (no route, a method it does not serve, a malformed
 * request it refuses) is answered like every other error: `{error: {code, message}}` from the
 * table, never the framework's body, which echoes the path.
 */
@Catch()
export class WireErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    res.status(ERROR_CODES[codeOf(exception)].http).json({ error: wireError(codeOf(exception)) });
  }
}

function codeOf(exception: unknown): ErrorCode {
  if (exception instanceof VisionError) return exception.code;
  if (exception instanceof NotFoundException) return 'E_NO_ROUTE';
  if (exception instanceof HttpException && exception.getStatus() < 500) return 'E_BAD_REQUEST';
  return 'E_INTERNAL';
}
