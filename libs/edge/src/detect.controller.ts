import { Controller, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { readBody } from '@vision/http';
import { frameCost } from '@vision/transport';
import { imageDimensions, sniffImageFormat, VisionError } from '@vision/wire';
import { admittedRequest, queryParam } from './admitted-request';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { EdgeService } from './edge.service';
import type { Settled } from './frame-ledger';
import { decodeJsonImage } from './json-image';

/**
 * The classic path, for simple clients and for comparison: `POST /v1/detect` with a raw image
 * body (`image/jpeg`, `image/png`, `image/webp` or `application/octet-stream`) or JSON
 * `{"image": "<base64>"}`. Replies like the seed WebSocket protocol: a JSON array of detections, or
 * `{"error": {code, message}}` with the status from the error table. The same gate (Origin, token,
 * per-address limit) and the same frame ledger as WebSocket frames.
 */
@Controller('v1')
export class DetectController {
  constructor(
    @Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext,
    private readonly edge: EdgeService,
  ) {}

  @Post('detect')
  async detect(@Req() req: Request, @Res() res: Response): Promise<void> {
    const receivedAt = Date.now();
    await admittedRequest(
      this.edge.gate,
      req,
      res,
      async (admitted) => {
        // Checked before the body is read: an unknown model costs the client no upload.
        const model = this.ctx.catalog.resolve(queryParam(req, 'model'), admitted.principal);
        const json = (req.headers['content-type'] ?? '').startsWith('application/json');
        const max = this.ctx.config.frames.maxFrameBytes;
        // base64 inflates by 4/3; allow that plus a little JSON around it.
        const body = await readBody(req, {
          maxBytes: json ? Math.ceil((max * 4) / 3) + 1024 : max,
          tooLarge: 'E_FRAME_TOO_LARGE',
          throttle: admitted.throttle,
        });
        const image = json ? decodeJsonImage(body) : body;
        if (image.length === 0) throw new VisionError('E_EMPTY_FRAME');
        if (image.length > max) throw new VisionError('E_FRAME_TOO_LARGE');
        if (!sniffImageFormat(image)) throw new VisionError('E_UNSUPPORTED_FORMAT');
        const settled = await new Promise<Settled>((resolve) =>
          this.edge.ledger.submit(
            {
              connId: this.edge.nextHttpConnId(),
              frameId: 0,
              tenant: admitted.principal.subject,
              receivedAt,
              deadline: receivedAt + this.ctx.config.frames.deadlineMs,
              image,
              model,
              cost: frameCost(imageDimensions(image), this.ctx.config.limits.costUnitPixels),
            },
            resolve,
          ),
        );
        if (!settled.ok) throw settled.error;
        const r = settled.result;
        this.edge.answered('result', receivedAt);
        res
          .status(200)
          .set({
            'x-batch-size': String(r.batchSize),
            'x-queue-ms': String(r.timings.queueMs),
            'x-inference-ms': r.timings.inferenceMs.toFixed(2),
            'x-total-ms': String(r.timings.totalMs),
            'x-model': r.model,
            'x-model-version': r.modelVersion,
          })
          .json(r.detections);
      },
      (wire) => this.edge.answered(wire.code, receivedAt),
    );
  }
}
