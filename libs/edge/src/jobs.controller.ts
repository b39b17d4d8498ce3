import { Controller, Delete, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { checkWebhookUrl, screenWebhookHost } from '@vision/webhooks';
import { VisionError } from '@vision/wire';
import { admittedRequest, queryParam } from './admitted-request';
import { readUpload } from './bulk-upload';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { EdgeService } from './edge.service';

/** The setting a refused webhook host is named against. */
const WEBHOOK_HOSTS = 'BULK_WEBHOOK_HOSTS';

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
    await admittedRequest(this.edge.gate, req, res, async ({ principal, throttle }) => {
      const tenant = principal.subject;
      const bulk = this.jobs();
      const cfg = this.ctx.config.bulk;
      // Everything that can be refused is refused before the body is read.
      const model = this.ctx.catalog.resolve(queryParam(req, 'model'), principal);
      const hook = queryParam(req, 'webhook');
      if (hook && !cfg.webhookSecret)
        throw new VisionError('E_BAD_REQUEST', 'webhooks need BULK_WEBHOOK_SECRET on this site');
      const webhook = hook ? checkWebhookUrl(hook, { hosts: cfg.webhookHosts, setting: WEBHOOK_HOSTS }) : undefined;
      if (webhook) await screenWebhookHost(webhook, { hosts: cfg.webhookHosts, setting: WEBHOOK_HOSTS });
      // Without a declared length (chunked), the upload limit is reserved and trimmed once read.
      const declared = Number(req.headers['content-length'] ?? cfg.maxUploadBytes);
      if (!(declared <= cfg.maxUploadBytes)) throw new VisionError('E_UPLOAD_TOO_LARGE');
      const id = await bulk.reserve(tenant, model, declared);
      let count: number;
      let bytes = 0;
      try {
        const limits = {
          maxBytes: cfg.maxUploadBytes,
          maxImages: cfg.maxImages,
          maxImageBytes: this.ctx.config.frames.maxFrameBytes,
          throttle,
        };
        count = await readUpload(req, limits, (i, b) => {
          bytes += b.length;
          return bulk.putImage(id, i, b);
        });
        if (count === 0) throw new VisionError('E_EMPTY_FRAME', 'the upload holds no images');
        await bulk.submit(id, model, count, bytes, webhook);
      } catch (err) {
        await bulk.abort(id, tenant).catch(() => undefined);
        throw err;
      }
      res.status(202).location(`/v1/jobs/${id}`).json({ id, state: 'queued', model, total: count });
    });
  }

  @Get(':id')
  async get(@Req() req: Request, @Res() res: Response): Promise<void> {
    await admittedRequest(this.edge.gate, req, res, async ({ principal }) => {
      const offset = Math.max(0, Math.floor(Number(queryParam(req, 'offset') ?? 0)) || 0);
      const limit = Math.min(MAX_PAGE, Math.max(0, Math.floor(Number(queryParam(req, 'limit') ?? 100)) || 0));
      res.status(200).json(await this.jobs().status(String(req.params['id']), principal.subject, offset, limit));
    });
  }

  @Delete(':id')
  async cancel(@Req() req: Request, @Res() res: Response): Promise<void> {
    await admittedRequest(this.edge.gate, req, res, async ({ principal }) => {
      res.status(200).json(await this.jobs().cancel(String(req.params['id']), principal.subject));
    });
  }

  private jobs() {
    if (!this.ctx.bulk) throw new VisionError('E_UNAVAILABLE', 'bulk jobs need REDIS_URL');
    return this.ctx.bulk;
  }
}
