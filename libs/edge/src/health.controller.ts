import { Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { EdgeService } from './edge.service';

@Controller()
export class HealthController {
  constructor(
    @Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext,
    private readonly edge: EdgeService,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: the queue answers, a worker is present, extra checks pass, and we are not draining. */
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const t = await this.ctx.transport.health();
    const extra = (await this.ctx.readiness?.()) ?? {};
    const checks = { queue: t.reachable, workers: t.workers > 0, accepting: !this.edge.isDraining, ...extra };
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ ready, checks, workers: t.workers, backlog: t.backlog, edgeId: this.edge.edgeId });
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() res: Response): Promise<void> {
    res.type(this.ctx.metrics.contentType).send(await this.ctx.metrics.text());
  }
}
