import { describe, expect, it } from 'vitest';
import { ConfigError, loadEventsConfig, loadSettings, RESULTS_SETTINGS } from '../src';

describe('results and events settings', () => {
  it('default to a switched-on results stream of 8 shards and sound rule defaults', () => {
    expect(loadSettings(RESULTS_SETTINGS, {})).toEqual({
      enabled: true,
      shards: 8,
      maxLen: 10_000,
      trackLowThreshold: 0.1,
    });
    expect(loadSettings(RESULTS_SETTINGS, { RESULTS_STREAM: 'false', RESULTS_SHARDS: '16' })).toMatchObject({
      enabled: false,
      shards: 16,
    });
    const c = loadEventsConfig({});
    expect(c.ruleDefaults).toEqual({ anchor: 'bottom-center', inertia: 2, exitInertia: 2, hysteresis: 0.1 });
    expect(c.tracker).toMatchObject({ confirmHits: 2, lostMs: 2000, matchIou: 0.2, lowMatchIou: 0.5 });
    expect(c).toMatchObject({ site: 'site', leaseMs: 10_000, reorderMs: 500, mqtt: undefined, results: { shards: 8 } });
    expect(c.instanceId).toMatch(/^events-/);
    expect(loadEventsConfig({ EVENTS_MQTT_URL: 'mqtt://broker:1883' }).mqtt).toMatchObject({
      url: 'mqtt://broker:1883',
      prefix: 'vision',
      inflight: 100,
    });
  });

  it.each([
    [{ RESULTS_SHARDS: '0' }, /RESULTS_SHARDS/],
    [{ TRACK_LOW_THRESHOLD: '2' }, /TRACK_LOW_THRESHOLD/],
    [{ EVENTS_LEASE_MS: '10' }, /EVENTS_LEASE_MS/],
    [{ EVENTS_ANCHOR: 'middle' }, /EVENTS_ANCHOR/],
    [{ EVENTS_MQTT_URL: 'http://broker' }, /EVENTS_MQTT_URL/],
    [{ EVENTS_WEBHOOK_SECRET: 'short' }, /EVENTS_WEBHOOK_SECRET.*32/],
    [{ EVENTS_MQTT_URL: 'mqtt://b', EVENTS_MQTT_PASSWORD: 'x' }, /EVENTS_MQTT_PASSWORD/],
    [{ EVENTS_SITE: 'a/b' }, /EVENTS_SITE/],
  ])('refuse %o naming the variable', (env, message) => {
    expect(() => loadEventsConfig(env)).toThrow(ConfigError);
    expect(() => loadEventsConfig(env)).toThrow(message);
  });

  it('clip settings: the recording folder, the window around an event, and their bounds', () => {
    expect(loadEventsConfig({}).clip).toEqual({
      dir: undefined,
      beforeSeconds: 5,
      afterSeconds: 5,
      maxBytes: 256 * 1024 * 1024,
      timeoutMs: 30_000,
      ffmpegPath: 'ffmpeg',
    });
    expect(() => loadEventsConfig({ EVENTS_RECORD_DIR: '/rec' })).toThrow(
      /EVENTS_RECORD_DIR: clips need EVENTS_SNAPSHOT_DIR/,
    );
    const c = loadEventsConfig({
      EVENTS_RECORD_DIR: '/rec',
      EVENTS_SNAPSHOT_DIR: '/snapshots',
      EVENTS_CLIP_BEFORE_SECONDS: '2.5',
      EVENTS_CLIP_AFTER_SECONDS: '0',
    });
    expect([c.clip.dir, c.clip.beforeSeconds, c.clip.afterSeconds]).toEqual(['/rec', 2.5, 0]);
    expect(() => loadEventsConfig({ EVENTS_CLIP_BEFORE_SECONDS: '-1' })).toThrow(/EVENTS_CLIP_BEFORE_SECONDS/);
    expect(() => loadEventsConfig({ EVENTS_CLIP_MAX_BYTES: '10' })).toThrow(/EVENTS_CLIP_MAX_BYTES/);
  });

  it('snapshot settings: off without a folder; the frame window outlasts the reorder window and fits its total', () => {
    const c = loadEventsConfig({ EVENTS_SNAPSHOT_DIR: '/snapshots' });
    expect(c.snapshots).toMatchObject({ dir: '/snapshots', retentionDays: 14, quality: 85, maxWidth: undefined });
    expect(c.snapshots.frameWindow).toEqual({
      ms: 10_000,
      cameraBytes: 8 * 1024 * 1024,
      totalBytes: 512 * 1024 * 1024,
    });
    expect(() =>
      loadEventsConfig({ EVENTS_SNAPSHOT_DIR: '/s', EVENTS_REORDER_MS: '2000', EVENTS_FRAME_WINDOW_MS: '2000' }),
    ).toThrow(/EVENTS_FRAME_WINDOW_MS: must exceed EVENTS_REORDER_MS \(2000\)/);
    expect(() =>
      loadEventsConfig({ EVENTS_FRAME_WINDOW_CAMERA_BYTES: '1048576', EVENTS_FRAME_WINDOW_TOTAL_BYTES: '524288' }),
    ).toThrow(/EVENTS_FRAME_WINDOW_TOTAL_BYTES: must be at least EVENTS_FRAME_WINDOW_CAMERA_BYTES/);
    expect(() => loadEventsConfig({ EVENTS_SNAPSHOT_MAX_WIDTH: '10' })).toThrow(/EVENTS_SNAPSHOT_MAX_WIDTH/);
  });
});
