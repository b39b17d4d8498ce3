import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { imageDimensions, VisionError } from '@vision/wire';
import type { CameraSpec } from './camera-spec';
import type { FrameSource, SourceEnd, SourceHandlers, SourceMode } from './frame-source';
import { JpegCutter } from './jpeg-cutter';

export interface HttpSourceOptions {
  spec: CameraSpec;
  maxFrameBytes: number;
  /** Connect, response and between-bytes timeout. */
  ioTimeoutMs: number;
  scrub: (text: string) => string;
}

/**
 * An HTTP camera read in Node, without ffmpeg: a `multipart/x-mixed-replace` MJPEG stream passes its
 * JPEGs through untouched (thinned to the camera's fps), and a snapshot URL (`image/jpeg`) is polled
 * at the camera's fps over one kept-alive connection. When frames are larger than the camera's
 * maxWidth × maxHeight, or the URL serves some other video, the source ends asking for ffmpeg.
 * Redirects are not followed (a camera URL is the operator's, exactly).
 */
export function startHttpSource(o: HttpSourceOptions, on: SourceHandlers): FrameSource {
  const url = new URL(o.spec.url);
  const lib = url.protocol === 'https:' ? https : http;
  const agent = new lib.Agent({ keepAlive: true, maxSockets: 1 });
  const gate = fpsGate(o.spec.fps);
  let mode: SourceMode = 'passthrough';
  let req: ClientRequest | undefined;
  let next: NodeJS.Timeout | undefined;
  let over = false;

  const end = (why: SourceEnd) => {
    if (over) return;
    over = true;
    clearTimeout(next);
    req?.destroy();
    agent.destroy();
    on.ended(why);
  };
  const fail = (
    code: 'E_CAMERA_UNREACHABLE' | 'E_CAMERA_AUTH' | 'E_CAMERA_NOT_VIDEO' | 'E_CAMERA_ENDED' | 'E_CAMERA_BAD_DATA',
    message: string,
  ) => end(new VisionError(code, o.scrub(message)));
  /** Whether a JPEG fits the camera's size; if not, the source ends asking ffmpeg to scale. */
  const fits = (jpeg: Buffer, as: 'mpjpeg' | 'snapshot'): boolean => {
    const d = imageDimensions(jpeg);
    if (!d) {
      fail('E_CAMERA_BAD_DATA', 'a JPEG without a frame header');
      return false;
    }
    if (d.width <= o.spec.maxWidth && d.height <= o.spec.maxHeight) return true;
    end({ useFfmpeg: as, reason: `frames are ${d.width}×${d.height}, above ${o.spec.maxWidth}×${o.spec.maxHeight}` });
    return false;
  };

  const onResponse = (res: IncomingMessage, startedAt: number) => {
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      res.resume();
      if (status === 401 || status === 403) return fail('E_CAMERA_AUTH', `HTTP ${status}`);
      if (status === 404 || status === 410) return fail('E_CAMERA_NOT_VIDEO', `HTTP ${status}`);
      if (status >= 300 && status < 400)
        return fail('E_CAMERA_NOT_VIDEO', `HTTP ${status}: redirects are not followed`);
      return fail('E_CAMERA_UNREACHABLE', `HTTP ${status}`);
    }
    const type = (res.headers['content-type'] ?? '').toLowerCase().split(';')[0].trim();
    res.on('error', (err: NodeJS.ErrnoException) =>
      fail('E_CAMERA_UNREACHABLE', `HTTP response failed: ${err.code ?? err.message}`),
    );
    if (type === 'multipart/x-mixed-replace') {
      mode = 'passthrough';
      const cutter = new JpegCutter(o.maxFrameBytes, (jpeg) => {
        if (!over && fits(jpeg, 'mpjpeg') && gate()) on.frame(jpeg);
      });
      res.on('data', (chunk: Buffer) => {
        if (over) return;
        try {
          cutter.push(chunk);
        } catch (err) {
          end(err as VisionError);
        }
      });
      res.on('end', () => fail('E_CAMERA_ENDED', 'the camera closed its MJPEG stream'));
    } else if (type === 'image/jpeg') {
      mode = 'snapshot';
      readBody(res, o.maxFrameBytes).then(
        (jpeg) => {
          if (over) return;
          if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return fail('E_CAMERA_BAD_DATA', 'the snapshot is not a JPEG');
          if (!fits(jpeg, 'snapshot')) return;
          on.frame(jpeg);
          next = setTimeout(request, Math.max(0, startedAt + 1000 / o.spec.fps - Date.now()));
        },
        (err: VisionError) => end(err),
      );
    } else {
      res.resume();
      if (type.startsWith('video/') || type === 'application/octet-stream' || type === '')
        return end({ useFfmpeg: 'auto', reason: `content-type ${type || 'unset'}` });
      fail('E_CAMERA_NOT_VIDEO', `HTTP content-type ${type.slice(0, 100)} is not a video stream`);
    }
  };

  function request(): void {
    if (over) return;
    const startedAt = Date.now();
    req = lib.get(
      url,
      { agent, timeout: o.ioTimeoutMs, headers: { accept: 'multipart/x-mixed-replace, image/jpeg;q=0.9, */*;q=0.1' } },
      (res) => onResponse(res, startedAt),
    );
    req.on('timeout', () => req?.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) =>
      fail('E_CAMERA_UNREACHABLE', `HTTP request failed: ${err.code ?? err.message}`),
    );
  }
  request();

  return {
    get mode() {
      return mode;
    },
    pid: undefined,
    async stop() {
      over = true;
      clearTimeout(next);
      req?.destroy();
      agent.destroy();
    },
  };
}

/** A whole response body, refused above `max` bytes (declared or actual). */
function readBody(res: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new VisionError('E_CAMERA_BAD_DATA', `a snapshot exceeded CAMERA_MAX_FRAME_BYTES (${max})`);
    if (Number(res.headers['content-length'] ?? 0) > max) {
      res.destroy();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        res.destroy();
        reject(tooLarge());
      } else {
        chunks.push(c);
      }
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (err: NodeJS.ErrnoException) =>
      reject(new VisionError('E_CAMERA_UNREACHABLE', `HTTP response failed: ${err.code ?? err.message}`)),
    );
  });
}

/**
 * At most `fps` frames a second from a faster camera: time is cut into slots of 1/fps centred on
 * the first frame, and a frame is kept if it is the first in its slot. The average never exceeds
 * `fps`, 25 → 15 fps keeps 15, and a camera at `fps` (with jitter under half a slot) or slower
 * keeps every frame.
 */
function fpsGate(fps: number): () => boolean {
  const interval = 1000 / fps;
  let origin: number | undefined;
  let last = -1;
  return () => {
    const now = performance.now();
    origin ??= now;
    const slot = Math.round((now - origin) / interval);
    if (slot <= last) return false;
    last = slot;
    return true;
  };
}
