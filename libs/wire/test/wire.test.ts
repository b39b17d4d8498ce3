import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  encodeFrame,
  ERROR_CODES,
  imageDimensions,
  parseFrame,
  sniffImageFormat,
  toWireError,
  VisionError,
} from '../src';

describe('yolo.v1 frame header', () => {
  it('round-trips frame id, capture time and stream id, and leaves the image untouched', () => {
    const image = Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3]);
    const msg = encodeFrame({ frameId: 0xfffffffe, captureTs: 1764135000123.5, streamId: 'quai-7 ✓' }, image);
    const { header, image: out } = parseFrame(msg);
    expect(header).toEqual({ frameId: 0xfffffffe, captureTs: 1764135000123.5, streamId: 'quai-7 ✓' });
    expect(Buffer.from(out).equals(image)).toBe(true);
  });

  it('treats a message starting with image magic as headerless', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
    expect(parseFrame(jpeg)).toEqual({ header: undefined, image: jpeg });
  });

  it('skips header fields it does not know (a longer header from a newer client)', () => {
    const msg = encodeFrame({ frameId: 5 }, Buffer.from([0x89, 0x50]));
    const longer = Buffer.concat([msg.subarray(0, 17), Buffer.from([9, 9, 9]), msg.subarray(17)]);
    longer.writeUInt16BE(20, 2);
    expect(parseFrame(longer)).toMatchObject({ header: { frameId: 5 }, image: Buffer.from([0x89, 0x50]) });
  });

  it('rejects truncated or inconsistent headers with E_BAD_HEADER', () => {
    const msg = encodeFrame({ frameId: 1, streamId: 'abc' }, Buffer.from([0xff, 0xd8, 0xff]));
    expect(() => parseFrame(msg.subarray(0, 10))).toThrow(expect.objectContaining({ code: 'E_BAD_HEADER' }));
    const bad = Buffer.from(msg);
    bad.writeUInt16BE(5000, 2);
    expect(() => parseFrame(bad)).toThrow(expect.objectContaining({ code: 'E_BAD_HEADER' }));
    expect(() => encodeFrame({ frameId: -1 }, Buffer.alloc(0))).toThrow(RangeError);
  });

  it('refuses a non-zero flags byte: it is reserved for later versions', () => {
    const msg = Buffer.from(encodeFrame({ frameId: 1 }, Buffer.from([0xff, 0xd8, 0xff])));
    for (const flags of [1, 0x80, 0xff]) {
      msg[1] = flags;
      expect(() => parseFrame(msg), String(flags)).toThrow(expect.objectContaining({ code: 'E_BAD_HEADER' }));
    }
  });
});

describe('imageDimensions', () => {
  it('reads the size from JPEG (progressive, behind EXIF), PNG and WebP (lossy, lossless, alpha)', async () => {
    const base = sharp({ create: { width: 321, height: 123, channels: 3, background: { r: 9, g: 99, b: 199 } } });
    const alpha = sharp({
      create: { width: 77, height: 55, channels: 4, background: { r: 9, g: 99, b: 199, alpha: 0.5 } },
    });
    const cases: [string, Buffer, number, number][] = [
      ['jpeg', await base.clone().jpeg().toBuffer(), 321, 123],
      ['progressive jpeg', await base.clone().jpeg({ progressive: true }).toBuffer(), 321, 123],
      ['jpeg with exif', await base.clone().withMetadata({ orientation: 6 }).jpeg().toBuffer(), 321, 123],
      ['png', await base.clone().png().toBuffer(), 321, 123],
      ['webp lossy', await base.clone().webp().toBuffer(), 321, 123],
      ['webp lossless', await base.clone().webp({ lossless: true }).toBuffer(), 321, 123],
      ['webp alpha (VP8X)', await alpha.webp().toBuffer(), 77, 55],
    ];
    for (const [what, bytes, width, height] of cases) expect(imageDimensions(bytes), what).toEqual({ width, height });
    expect(imageDimensions(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2]))).toBeUndefined();
    expect(imageDimensions(Buffer.from('GIF89a'))).toBeUndefined();
  });
});

describe('sniffImageFormat', () => {
  it('knows JPEG, PNG and WebP by their magic bytes only', () => {
    expect(sniffImageFormat(Buffer.from([0xff, 0xd8, 0xff, 0xdb]))).toBe('jpeg');
    expect(sniffImageFormat(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'))).toBe('png');
    expect(sniffImageFormat(Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1'))).toBe('webp');
    expect(sniffImageFormat(Buffer.from('GIF89a'))).toBeUndefined();
    expect(sniffImageFormat(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('error codes', () => {
  it('never leak internals: unknown errors become E_INTERNAL', () => {
    expect(toWireError(new Error('secret stack'))).toEqual({
      code: 'E_INTERNAL',
      message: ERROR_CODES.E_INTERNAL.message,
    });
    expect(toWireError(new VisionError('E_EXPIRED'))).toEqual({
      code: 'E_EXPIRED',
      message: ERROR_CODES.E_EXPIRED.message,
    });
    // Our own message may quote a library (for logs); the client only ever sees the code's fixed text.
    const decode = new VisionError('E_IMAGE_DECODE', 'VipsJpeg: Premature end of input file /tmp/x');
    expect(toWireError(decode)).toEqual({ code: 'E_IMAGE_DECODE', message: ERROR_CODES.E_IMAGE_DECODE.message });
    expect(toWireError(new VisionError('E_RATE_LIMITED', 'x', { retryAfterMs: 40 }))).toMatchObject({
      retryAfterMs: 40,
    });
  });

  it('match the table in docs/protocol.md (code, retry, close, HTTP status)', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/protocol.md'), 'utf8');
    const rows = new Map<string, string[]>();
    for (const m of doc.matchAll(/^\| `(E_[A-Z_]+)` \| (yes|no) \| ([^|]+) \| (\d+) \|/gm))
      rows.set(m[1], [m[2], m[3].trim(), m[4]]);
    // One table for every API: all but the start-up codes, which are never sent.
    const wire = Object.entries(ERROR_CODES).filter(
      ([code]) =>
        !['E_MODEL_LOAD', 'E_MODEL_LAYOUT', 'E_MODEL_INVALID', 'E_PROVIDER_UNAVAILABLE', 'E_CONFIG'].includes(code),
    );
    expect([...rows.keys()].sort()).toEqual(wire.map(([c]) => c).sort());
    for (const [code, spec] of wire) {
      const [retry, close, http] = rows.get(code)!;
      expect(retry, code).toBe(spec.retryable ? 'yes' : 'no');
      expect(close.startsWith(spec.close === null ? '—' : String(spec.close)), code).toBe(true);
      expect(Number(http), code).toBe(spec.http);
    }
    // The edges' API specs list the codes an edge sends: not the gateway's, the events service's, the
    // operator toolkit's body codes (the edges bound their bodies as frames and uploads), or the backup
    // tools' (never sent by a service).
    const notFromEdges = [
      ...['E_BODY_TOO_LARGE', 'E_BODY_TIMEOUT', 'E_UNSUPPORTED_MEDIA_TYPE'],
      ...['E_BAD_RULE', 'E_UNKNOWN_CAMERA', 'E_UNKNOWN_CLASS', 'E_RULE_IN_SITE_FILE'],
      ...['E_SNAPSHOT_PENDING', 'E_SNAPSHOT_UNAVAILABLE', 'E_CLIP_PENDING', 'E_CLIP_UNAVAILABLE'],
      ...['E_BACKUP_INVALID', 'E_BACKUP_TARGET_NOT_EMPTY'],
    ];
    const edge = wire.map(([c]) => c).filter((c) => !c.startsWith('E_CAMERA_') && !notFromEdges.includes(c));
    for (const spec of ['asyncapi.yaml', 'openapi.yaml']) {
      const text = readFileSync(join(__dirname, '../../../docs', spec), 'utf8');
      const enumBlock = /enum: \[(E_[^\]]+)\]/.exec(text)?.[1] ?? '';
      expect(enumBlock.match(/E_[A-Z_]+/g)?.sort(), spec).toEqual(edge.sort());
    }
  });
});
