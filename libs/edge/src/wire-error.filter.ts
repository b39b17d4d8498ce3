import { Catch, HttpException, NotFoundException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { answerError, HttpError, type RouteTable } from '@vision/http';
import { ERROR_CODES, VisionError } from '@vision/wire';

/**
 * Whatever the framework throws on its own (no route, a method it does not serve, a malformed
 * request it refuses) is answered like every other error and like the operator APIs (libs/http's
 * `answerError`): `{error: {code, message}}` from the table, never the framework's body, which
 * echoes the path. A path served under other methods is 405 `E_METHOD_NOT_ALLOWED` with `Allow`.
 */
@Catch()
export class WireErrorFilter implements ExceptionFilter {
  /** `routes`: the edge's routes as registered (asked on the first unknown request, once they all are). */
  constructor(private readonly routes: () => RouteTable<unknown>) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const http = host.switchToHttp();
    let error: unknown;
    try {
      error = this.visionError(exception, http);
    } catch (err) {
      error = err; // a path that is not valid percent-encoding
    }
    void answerError(http.getRequest<Request>(), http.getResponse<Response>(), error);
  }

  private visionError(exception: unknown, http: ReturnType<ArgumentsHost['switchToHttp']>): unknown {
    if (exception instanceof VisionError) return exception;
    if (exception instanceof NotFoundException) {
      const req = http.getRequest<Request>();
      const match = this.routes().match(req.method, req.path);
      if (match.kind !== 'method') return new VisionError('E_NO_ROUTE');
      return new HttpError('E_METHOD_NOT_ALLOWED', ERROR_CODES.E_METHOD_NOT_ALLOWED.message, {
        headers: { allow: match.allowed.join(', ') },
      });
    }
    if (exception instanceof HttpException && exception.getStatus() < 500) return new VisionError('E_BAD_REQUEST');
    return new VisionError('E_INTERNAL');
  }
}
