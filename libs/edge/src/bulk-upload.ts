import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { extract } from 'tar-stream';
import type { Readable } from 'node:stream';
import { sniffImageFormat, VisionError } from '@vision/wire';

export interface UploadLimits {
  maxBytes: number;
  maxImages: number;
  maxImageBytes: number;
  /** How long to pause after `bytes` more were read (the subject's byte rate). */
  throttle: (bytes: number) => number;
}

/** Image writes in flight before the upload is paused (memory stays bounded by a few images). */
const MAX_PENDING_WRITES = 4;

/**
 * Streams a bulk upload — `multipart/form-data` (every file part an image) or `application/x-tar`
 * (every regular file an image; hidden files skipped) — handing each image to `onImage` as it
 * completes, with backpressure: the body is paused while writes lag or the byte rate is spent.
 * Every size and count is bounded before it is buffered. Resolves with the image count.
 */
export function readUpload(
  req: IncomingMessage,
  limits: UploadLimits,
  onImage: (index: number, image: Buffer) => Promise<void>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let failed = false;
    let count = 0;
    let total = 0;
    let pending = 0;
    let writes = Promise.resolve();
    const holds = new Set<string>();
    const hold = (why: string, on: boolean) => {
      if (on) holds.add(why);
      else holds.delete(why);
      if (holds.size) req.pause();
      else req.resume();
    };
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe();
      reject(err);
    };
    const image = (bytes: Buffer, name: string) => {
      if (failed) return;
      if (!sniffImageFormat(bytes))
        return fail(new VisionError('E_UNSUPPORTED_FORMAT', `${name.slice(0, 100)} is not a JPEG, PNG or WebP`));
      if (++count > limits.maxImages)
        return fail(new VisionError('E_UPLOAD_TOO_LARGE', `more than ${limits.maxImages} images`));
      const index = count - 1;
      pending++;
      if (pending >= MAX_PENDING_WRITES) hold('writes', true);
      writes = writes
        .then(() => onImage(index, bytes))
        .then(
          () => {
            if (--pending < MAX_PENDING_WRITES) hold('writes', false);
          },
          (err: unknown) => fail(err),
        );
    };
    /** Buffers one file stream, bounded; calls back with the bytes or fails the upload. */
    const collect = (stream: Readable, name: string, done: (bytes: Buffer) => void) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limits.maxImageBytes) {
          stream.resume();
          return fail(new VisionError('E_FRAME_TOO_LARGE', `${name.slice(0, 100)} exceeds MAX_FRAME_BYTES`));
        }
        chunks.push(c);
      });
      stream.on('end', () => size <= limits.maxImageBytes && done(Buffer.concat(chunks, size)));
      stream.on('error', fail);
    };

    req.on('data', (c: Buffer) => {
      total += c.length;
      if (total > limits.maxBytes)
        return fail(new VisionError('E_UPLOAD_TOO_LARGE', 'the upload exceeds BULK_MAX_UPLOAD_BYTES'));
      const wait = limits.throttle(c.length);
      if (wait > 0) {
        hold('rate', true);
        setTimeout(() => hold('rate', false), wait).unref();
      }
    });
    req.on('error', fail);

    const type = req.headers['content-type'] ?? '';
    const finished = () => writes.then(() => !failed && resolve(count), fail);
    if (type.startsWith('multipart/form-data')) {
      let bb: busboy.Busboy;
      try {
        bb = busboy({
          headers: req.headers,
          limits: {
            files: limits.maxImages + 1,
            fileSize: limits.maxImageBytes + 1,
            fields: 0,
            parts: limits.maxImages + 1,
          },
        });
      } catch (err) {
        return fail(new VisionError('E_BAD_REQUEST', `bad multipart body: ${(err as Error).message}`));
      }
      bb.on('file', (_field, stream, info) =>
        collect(stream, info.filename ?? 'part', (b) => image(b, info.filename ?? 'part')),
      );
      bb.on('filesLimit', () => fail(new VisionError('E_UPLOAD_TOO_LARGE', `more than ${limits.maxImages} images`)));
      bb.on('partsLimit', () => fail(new VisionError('E_UPLOAD_TOO_LARGE', 'too many parts')));
      bb.on('fieldsLimit', () =>
        fail(new VisionError('E_BAD_REQUEST', 'only file parts are accepted (options go in the query string)')),
      );
      bb.on('error', (err) => fail(new VisionError('E_BAD_REQUEST', `bad multipart body: ${(err as Error).message}`)));
      bb.on('close', finished);
      req.pipe(bb);
    } else if (type === 'application/x-tar') {
      const tar = extract();
      tar.on('entry', (header, stream, next) => {
        const base = header.name.split('/').pop() ?? '';
        if (header.type !== 'file' || base.startsWith('.')) {
          stream.on('end', next);
          return stream.resume();
        }
        if ((header.size ?? 0) > limits.maxImageBytes) {
          stream.resume();
          return fail(new VisionError('E_FRAME_TOO_LARGE', `${header.name.slice(0, 100)} exceeds MAX_FRAME_BYTES`));
        }
        collect(stream, header.name, (b) => {
          image(b, header.name);
          next();
        });
      });
      tar.on('finish', finished);
      tar.on('error', (err) => fail(new VisionError('E_BAD_REQUEST', `bad tar archive: ${(err as Error).message}`)));
      req.pipe(tar);
    } else {
      req.resume();
      fail(new VisionError('E_UNSUPPORTED_FORMAT', 'send multipart/form-data or application/x-tar'));
    }
  });
}
