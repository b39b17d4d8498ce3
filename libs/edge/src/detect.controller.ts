import { Controller, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ERROR_CODES, sniffImageFormat, toWireError, VisionError } from '@vision/protocol';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { EdgeService } from './edge.service';

/**
 * The classic path, for simple clients and for comparison: `POST /v1/detect` with a raw image
 * body (`image/jpeg`, `image/png`, `image/webp` or `application/octet-stream`) or JSON
 * `{"image": "<base64>"}`. Replies like the seed WebSocket protocol: a JSON array of detections, or
 * `{"error": {code, message}}` with the status from the error table.
 */
@Controller('v1')
export class DetectController {
  constructor(
    @Inject(EDGE_CONTEXT) private readonly ctx: EdgeContext,
    private readonly edge: EdgeService,
  ) {}

  @Post('detect')
  async detect(@Req() req: Request, @Res() res: Response): Promise<void> {
    const fail = (err: unknown) => {
      const wire = toWireError(err);
      this.edge.answered(wire.code, Date.now());
      res.status(ERROR_CODES[wire.code].http).json({ error: wire });
    };
    try {
      const json = (req.headers['content-type'] ?? '').startsWith('application/json');
      const max = this.ctx.config.frames.maxFrameBytes;
      // base64 inflates by 4/3; allow that plus a little JSON around it.
      const body = await readBody(req, json ? Math.ceil((max * 4) / 3) + 4096 : max);
      const image = json ? decodeJsonImage(body) : body;
      if (image.length === 0) throw new VisionError('E_EMPTY_FRAME');
      if (image.length > max) throw new VisionError('E_FRAME_TOO_LARGE');
      if (!sniffImageFormat(image)) throw new VisionError('E_UNSUPPORTED_FORMAT');
      const outcome = await this.edge.http.detect(image);
      if (!outcome.ok) return fail(outcome.error);
      const r = outcome.result;
      const totalMs = Date.now() - outcome.receivedAt;
      this.edge.answered('result', outcome.receivedAt);
      res
        .status(200)
        .set({
          'x-batch-size': String(r.batchSize),
          'x-queue-ms': String(Math.max(0, r.pickedAt - outcome.receivedAt)),
          'x-inference-ms': r.inferenceMs.toFixed(2),
          'x-total-ms': String(totalMs),
          'x-model': r.model,
        })
        .json(r.detections);
    } catch (err) {
      fail(err);
      // A refused oversized body is not read to the end; do not keep the connection.
      if (err instanceof VisionError && err.code === 'E_FRAME_TOO_LARGE') res.setHeader('connection', 'close');
    }
  }
}

function readBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(new VisionError('E_FRAME_TOO_LARGE'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        reject(new VisionError('E_FRAME_TOO_LARGE'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function decodeJsonImage(body: Buffer): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new VisionError('E_BAD_MESSAGE', 'the body is not valid JSON');
  }
  const image = (parsed as { image?: unknown })?.image;
  if (typeof image !== 'string') throw new VisionError('E_BAD_MESSAGE', 'expected {"image": "<base64>"}');
  return Buffer.from(image, 'base64');
}
