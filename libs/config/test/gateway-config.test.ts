import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src';

const EDGE = { GATEWAY_EDGE_URLS: 'ws://edge-1:8080/ws/detect' };

describe('loadGatewayConfig', () => {
  it('has the documented defaults', () => {
    const c = loadGatewayConfig(EDGE);
    expect(c).toMatchObject({
      edgeUrls: ['ws://edge-1:8080/ws/detect'],
      port: 8090,
      index: 0,
      count: 1,
      maxCameras: 64,
      camerasFile: undefined,
      camerasFilePollMs: 1000,
      tokenFile: undefined,
      tokenTtlS: 600,
      ffmpeg: { path: 'ffmpeg', hwaccel: undefined, killGraceMs: 2000, jpegQuality: 5 },
      camera: { defaultFps: 5, maxWidth: 1280, maxHeight: 720, maxFrameBytes: 4 * 1024 * 1024, stallTimeoutMs: 10_000 },
      backoff: { initialMs: 1000, factor: 1.5, maxMs: 30_000, jitter: 0.2, stableMs: 60_000 },
      record: { dir: undefined, segmentSeconds: 2, retentionHours: 24, maxBytes: 10 * 1024 ** 3 },
    });
    const rec = loadGatewayConfig({
      ...EDGE,
      GATEWAY_RECORD_DIR: '/rec',
      GATEWAY_RECORD_RETENTION_HOURS: '0.5',
    }).record;
    expect([rec.dir, rec.retentionHours]).toEqual(['/rec', 0.5]);
  });

  it('parses lists and numbers', () => {
    const c = loadGatewayConfig({
      GATEWAY_EDGE_URLS: 'ws://a/ws/detect, wss://b/ws/detect',
      GATEWAY_INDEX: '2',
      GATEWAY_COUNT: '3',
      CAMERA_DEFAULT_FPS: '2.5',
      FFMPEG_HWACCEL: 'cuda',
    });
    expect(c.edgeUrls).toEqual(['ws://a/ws/detect', 'wss://b/ws/detect']);
    expect([c.index, c.count, c.camera.defaultFps, c.ffmpeg.hwaccel]).toEqual([2, 3, 2.5, 'cuda']);
  });

  it('names the variable in every refusal', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{}, /GATEWAY_EDGE_URLS/],
      [{ GATEWAY_EDGE_URLS: 'http://edge/ws/detect' }, /GATEWAY_EDGE_URLS: must be ws/],
      [{ ...EDGE, GATEWAY_INDEX: '3', GATEWAY_COUNT: '3' }, /GATEWAY_INDEX: must be below GATEWAY_COUNT/],
      [{ ...EDGE, CAMERA_DEFAULT_FPS: '0' }, /CAMERA_DEFAULT_FPS/],
      [{ ...EDGE, CAMERA_BACKOFF_INITIAL_MS: '5000', CAMERA_BACKOFF_MAX_MS: '1000' }, /CAMERA_BACKOFF_MAX_MS/],
      [{ ...EDGE, FFMPEG_HWACCEL: 'cuda; rm -rf /' }, /FFMPEG_HWACCEL/],
      [{ ...EDGE, GATEWAY_RECORD_SEGMENT_SECONDS: '0' }, /GATEWAY_RECORD_SEGMENT_SECONDS/],
      [{ ...EDGE, GATEWAY_RECORD_RETENTION_HOURS: 'a day' }, /GATEWAY_RECORD_RETENTION_HOURS/],
      [{ ...EDGE, GATEWAY_RECORD_MAX_BYTES: '1000' }, /GATEWAY_RECORD_MAX_BYTES/],
      [
        { ...EDGE, GATEWAY_TOKEN_FILE: '/run/token', JWT_SECRET: 'x'.repeat(32) },
        /GATEWAY_TOKEN_FILE: set it or JWT_SECRET/,
      ],
    ];
    for (const [env, message] of bad) expect(() => loadGatewayConfig(env), JSON.stringify(env)).toThrow(message);
  });
});
