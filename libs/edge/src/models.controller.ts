import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { admittedRequest } from './admitted-request';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { EdgeService } from './edge.service';

/** One entry of `GET /v1/models`, in the spirit of the KServe v2 / Triton model metadata. */
export interface ModelEntry {
  name: string;
  version: string;
  platform: 'onnxruntime_onnx';
  /** A worker of this model reported in within the last 5 s. */
  ready: boolean;
  default: boolean;
  /** Known once a worker loaded the model; absent before. */
  inputs?: { name: 'images'; datatype: 'FP32'; shape: number[] }[];
  classes?: string[];
  /** The model's task (detect, classify, …). */
  task?: string;
  layout?: string;
  /** The version the workers run; differs from `version` while a swap is in progress. */
  loadedVersion?: string;
}

/**
 * `GET /v1/models`: the site's models with their readiness, input shape, layout and classes (from
 * what workers announced). Same authentication as frames; a token with a `models` claim sees only
 * those models.
 */
@Controller('v1')
export class ModelsController {
  constructor(
    @Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext,
    private readonly edge: EdgeService,
  ) {}

  @Get('models')
  async list(@Req() req: Request, @Res() res: Response): Promise<void> {
    await admittedRequest(this.edge.gate, req, res, async (admitted) => {
      const catalog = this.ctx.catalog;
      const ids = catalog.ids().filter((id) => !admitted.principal.models || admitted.principal.models.includes(id));
      const status = await this.ctx.transport.models(ids);
      const models = ids.map((id): ModelEntry => {
        const s = status[id];
        const a = s?.announced;
        return {
          name: id,
          version: catalog.version(id) ?? '',
          platform: 'onnxruntime_onnx',
          ready: (s?.workers ?? 0) > 0,
          default: id === catalog.defaultId,
          ...(a
            ? {
                inputs: [{ name: 'images', datatype: 'FP32', shape: a.inputShape }],
                classes: a.classes,
                ...(a.task ? { task: a.task } : {}),
                layout: a.layout,
                loadedVersion: a.version,
              }
            : {}),
        };
      });
      res.status(200).json({ default: catalog.defaultId, models });
    });
  }
}
