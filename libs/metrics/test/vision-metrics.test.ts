import { describe, expect, it } from 'vitest';
import { MAX_STREAM_LABELS, VisionMetrics } from '../src';

describe('VisionMetrics', () => {
  it('gives each client stream its own series up to a cap, then one shared series', async () => {
    const m = new VisionMetrics({ defaultMetrics: false });
    for (let i = 0; i < MAX_STREAM_LABELS + 50; i++) m.streamFrame(`cam-${i}`, 'result');
    m.streamFrame('cam-0', 'skipped');
    const values = (await m.edgeStreamFrames.get()).values;
    expect(new Set(values.map((v) => v.labels['stream'])).size).toBe(MAX_STREAM_LABELS + 1);
    expect(values.find((v) => v.labels['stream'] === '_other')?.value).toBe(50);
    expect(values.find((v) => v.labels['stream'] === 'cam-0' && v.labels['outcome'] === 'skipped')?.value).toBe(1);
  });

  it('reads the queue gauges at scrape time, and keeps the last value when the queue cannot answer', async () => {
    const m = new VisionMetrics({ defaultMetrics: false });
    let answer: Promise<{ backlog: number | undefined; pending: number | undefined }> = Promise.resolve({
      backlog: 7,
      pending: 3,
    });
    m.observeQueue(() => answer);
    expect(await m.text()).toMatch(/^vision_queue_backlog_frames 7$/m);
    expect(await m.text()).toMatch(/^vision_queue_pending_frames 3$/m);
    answer = Promise.reject(new Error('down'));
    expect(await m.text()).toMatch(/^vision_queue_backlog_frames 7$/m);
  });
});
