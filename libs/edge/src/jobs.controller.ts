import { Controller, Delete, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { checkWebhookUrl } from '@vision/bulk';
import { ERROR_CODES, toWireError, VisionError } from '@vision/protocol';
import { readUpload } from './bulk-upload';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { EdgeService } from './edge.service';

/** Results per page of `GET /v1/jobs/:id`. */
const MAX_PAGE = 1000;

/**
 * Bulk detection jobs (docs/jobs.md): `POST /v1/jobs` uploads many images (multipart or tar) and
 * answers 202 with the job id; `GET /v1/jobs/:id` gives state, progress and a page of results;
 * `DELETE /v1/jobs/:id` cancels. Same authentication as frames; a job belongs to its token subject.
 */
@Controller('v1/jobs')
export class JobsController {
  constructor(
    @Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext,
    private readonly edge: EdgeService,
  ) {}

  @Post()
  async create(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.handle(req, res, async (tenant, principal, throttle) => {
      const bulk = this.jobs();
      const cfg = this.ctx.config.bulk;
      // Everything that can be refused is refused before the body is read.
      const model = this.ctx.catalog.resolve(query(req, 'model'), principal);
      const hook = query(req, 'webhook');
      if (hook && !cfg.webhookSecret) throw new VisionError('E_BAD_MESSAGE', 'webhooks need BULK_WEBHOOK_SECRET on this site');
      const webhook = hook ? checkWebhookUrl(hook, cfg.webhookHosts) : undefined;
      // Without a declared length (chunked), the upload limit is reserved and trimmed once read.
      const declared = Number(req.headers['content-length'] ?? cfg.maxUploadBytes);
      if (!(declared <= cfg.maxUploadBytes)) throw new VisionError('E_UPLOAD_TOO_LARGE');
      const id = await bulk.reserve(tenant, model, declared);
      let count: number;
      let bytes = 0;
      try {
        const limits = { maxBytes: cfg.maxUploadBytes, maxImages: cfg.maxImages, maxImageBytes: this.ctx.config.frames.maxFrameBytes, throttle };
        count = await readUpload(req, limits, (i, b) => {
          bytes += b.length;
          return bulk.putImage(id, i, b);
        });
        if (count === 0) throw new VisionError('E_EMPTY_FRAME', 'the upload holds no images');
        await bulk.submit(id, count, bytes, webhook);
      } catch (err) {
        await bulk.abort(id, tenant).catch(() => undefined);
        throw err;
      }
      res.status(202).location(`/v1/jobs/${id}`).json({ id, state: 'queued', model, total: count });
    });
  }

  @Get(':id')
  async get(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.handle(req, res, async (tenant) => {
      const offset = Math.max(0, Math.floor(Number(query(req, 'offset') ?? 0)) || 0);
      const limit = Math.min(MAX_PAGE, Math.max(0, Math.floor(Number(query(req, 'limit') ?? 100)) || 0));
      res.status(200).json(await this.jobs().status(String(req.params['id']), tenant, offset, limit));
    });
  }

  @Delete(':id')
  async cancel(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.handle(req, res, async (tenant) => {
      res.status(200).json(await this.jobs().cancel(String(req.params['id']), tenant));
    });
  }

  private jobs() {
    if (!this.ctx.bulk) throw new VisionError('E_UNAVAILABLE', 'bulk jobs need REDIS_URL');
    return this.ctx.bulk;
  }

  /** Admission (token, per-address requests, byte rate) and the error table, as for `POST /v1/detect`. */
  private async handle(
    req: Request,
    res: Response,
    body: (tenant: string, principal: Awaited<ReturnType<EdgeService['gate']['admitRequest']>>['principal'], throttle: (bytes: number) => number) => Promise<void>,
  ): Promise<void> {
    let release: (() => void) | undefined;
    try {
      const admitted = await this.edge.gate.admitRequest(req);
      release = admitted.done;
      await body(admitted.principal.subject, admitted.principal, admitted.throttle);
    } catch (err) {
      // Anything but our own errors here comes from the job store (Redis): retryable, not a 500.
      const wire = toWireError(err instanceof VisionError ? err : new VisionError('E_UNAVAILABLE', 'the job store is unreachable', { cause: err }));
      if (wire.code === 'E_UNAUTHORIZED' || wire.code === 'E_TOKEN_EXPIRED') res.setHeader('www-authenticate', 'Bearer');
      if (!req.complete) res.setHeader('connection', 'close');
      res.status(ERROR_CODES[wire.code].http).json({ error: wire });
    } finally {
      release?.();
    }
  }
}

function query(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
