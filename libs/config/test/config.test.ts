import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src';

describe('loadConfig', () => {
  it('defaults to embedded mode with the demo model', () => {
    const c = loadConfig({});
    expect(c.redisUrl).toBeUndefined();
    expect(c.port).toBe(8080);
    expect(c.model.path).toBe('models/colors-v8-dyn.onnx');
    expect(c.batching).toEqual({ maxBatch: 8, maxWaitMs: 0, maxQueue: 64, engines: 1 });
    expect(c.frames.maxInFlight).toBe(2);
    expect(c.frames.pingIntervalMs).toBe(25_000);
    expect(c.edgeId).toMatch(/^edge-/);
  });

  it('parses numbers, booleans and the Redis URL', () => {
    const c = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6379/2', MAX_BATCH: '16', MAX_WAIT_MS: '5', CONF_THRESHOLD: '0.5',
      ALLOW_PROVIDER_FALLBACK: 'true', EXECUTION_PROVIDER: 'cuda', PORT: '', EDGE_ID: 'edge-a',
    });
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379/2');
    expect(c.batching.maxBatch).toBe(16);
    expect(c.model).toMatchObject({ confThreshold: 0.5, allowProviderFallback: true, executionProvider: 'cuda' });
    expect(c.port).toBe(8080);
    expect(c.edgeId).toBe('edge-a');
  });

  it('names every offending variable', () => {
    let err: unknown;
    try {
      loadConfig({ MAX_BATCH: '0', CONF_THRESHOLD: 'high', REDIS_URL: 'http://x', EXECUTION_PROVIDER: 'rocm' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ['MAX_BATCH', 'CONF_THRESHOLD', 'REDIS_URL', 'EXECUTION_PROVIDER']) expect(msg).toContain(name);
  });
});
