import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { EdgeService } from './edge.service';

/** Public health endpoints: booleans only (no ids, versions or counts). Metrics live on METRICS_PORT. */
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

  /**
   * Readiness: this edge can accept and route frames (the queue answers, extra checks pass, not
   * draining). Workers are reported beside it, not in it: when every worker restarts at once the
   * edges stay in the load balancer and answer frames `E_UNAVAILABLE` at once, rather than all
   * leaving it and clients hearing nothing.
   */
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const t = await this.ctx.transport.health(this.ctx.catalog.ids());
    const extra = (await this.ctx.readiness?.()) ?? {};
    const checks = { queue: t.reachable, accepting: !this.edge.isDraining, ...extra };
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ ready, checks, workers: t.workers > 0 });
  }
}
