import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLORS, signTestToken, TEST_JWT_SECRET, y4mClip } from '@vision/testing';
import { startEventsSite } from './harness';

const CHROMIUM = '/usr/bin/chromium'; // Debian's package (.ci/run installs it)
// The fake camera: one red 32x32 square at (320, 240) of 640x480 (as in the demo page's own test).
const SQUARE = { x: 320, y: 240, w: 32, h: 32 };
// A zone around it in pixels, and a line well away from it.
const PAD = [
  [280, 200],
  [400, 200],
  [400, 320],
  [280, 320],
];
const GATE = { from: [0.1, 0.9], to: [0.9, 0.9] };

interface FeedView {
  state: string;
  rules: { id: string; type: string }[];
  counts: Record<string, { total?: number }>;
  tracks: { w: number; h: number; tracks: [number, string, number, number, number, number][] } | null;
  events: { kind: string; rule: string; class?: string; track?: number }[];
}

/**
 * The demo page with `?events=`: a browser streams a fake camera through an edge and a worker on
 * Redis; the events service tracks the square and the page draws the camera's zone and line, the
 * track's id, the zone's count and the events list from /ws/events, authenticated by a token in
 * the `bearer.` subprotocol.
 */
describe('demo page with the site-events feed', () => {
  let browser: Browser | undefined;
  let site: Awaited<ReturnType<typeof startEventsSite>>;

  beforeAll(async () => {
    site = await startEventsSite(
      'events-demo',
      {
        models: { default: ['red', 'green', 'blue'] },
        cameras: {
          'gate-cam': {
            model: 'default',
            rules: [
              { id: 'pad', type: 'zone', units: 'px', polygon: PAD, classes: ['red'] },
              { id: 'gate', type: 'line', units: 'norm', ...GATE },
            ],
          },
        },
      },
      { EVENTS_SITE: 'yard', AUTH_DISABLED: '', JWT_SECRET: TEST_JWT_SECRET },
    );
  });

  afterAll(async () => {
    await browser?.close();
    await site?.stop();
  });

  it('draws the zone, the line, the track id and the count, and lists the events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-events-'));
    const clip = join(dir, 'clip.y4m');
    writeFileSync(clip, y4mClip(640, 480, 10, [{ ...SQUARE, color: COLORS.red }]));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${clip}`,
      ],
    });
    const page = await browser.newPage();
    const token = await signTestToken({ sub: 'ops', scope: 'events:read' });
    const feedUrl = `ws://127.0.0.1:${site.events.port}/ws/events`;
    await page.goto(
      `http://127.0.0.1:${site.edge.port}/demo/?autostart=camera&camera=gate-cam` +
        `&events=${encodeURIComponent(feedUrl)}&events_token=${token}`,
    );

    const feed = () =>
      page.evaluate(
        () => JSON.parse(JSON.stringify((window as unknown as { demo: { feed: FeedView } }).demo.feed)) as FeedView,
      );
    await page.waitForFunction(
      () => {
        const f = (window as unknown as { demo: { feed: FeedView } }).demo.feed;
        return (
          f.events.some((e) => e.kind === 'zone.enter') &&
          f.counts.pad?.total === 1 &&
          (f.tracks?.tracks.length ?? 0) > 0
        );
      },
      undefined,
      { timeout: 30_000 },
    );
    const f = await feed();
    expect(f.state).toBe('open');
    expect(f.rules.map((r) => `${r.id}:${r.type}`).sort()).toEqual(['gate:line', 'pad:zone']);
    const enter = f.events.find((e) => e.kind === 'zone.enter');
    expect(enter).toMatchObject({ rule: 'pad', class: 'red' });
    // The track the feed shows is the square, in the camera's pixels.
    expect(f.tracks?.w).toBe(640);
    const [id, cls, x1, y1, x2, y2] = f.tracks!.tracks[0];
    expect(cls).toBe('red');
    expect(id).toBe(enter?.track);
    [x1, y1, x2, y2].forEach((v, i) =>
      expect(Math.abs(v - [SQUARE.x, SQUARE.y, SQUARE.x + SQUARE.w, SQUARE.y + SQUARE.h][i])).toBeLessThanOrEqual(2),
    );

    // The page: the events list names the entry, and the overlay carries the zone's outline and
    // the line (norm units, scaled to the frame) while the zone's inside stays clear.
    const list = await page.textContent('#events-list');
    expect(list).toMatch(new RegExp(`zone\\.enter pad #${id} red`));
    const px = await page.evaluate(() => {
      const ctx = (document.getElementById('overlay') as HTMLCanvasElement).getContext('2d')!;
      const alpha = (x: number, y: number) => ctx.getImageData(x, y, 1, 1).data[3];
      return {
        zoneEdge: [alpha(280, 260), alpha(400, 300), alpha(340, 320)],
        line: [alpha(200, 432), alpha(500, 432)],
        zoneInside: alpha(390, 300),
        outside: alpha(600, 100),
      };
    });
    for (const a of [...px.zoneEdge, ...px.line]) expect(a).toBeGreaterThan(0);
    expect(px.zoneInside).toBe(0);
    expect(px.outside).toBe(0);
  }, 60_000);
});
