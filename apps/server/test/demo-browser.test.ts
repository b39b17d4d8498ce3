import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { COLORS, freePort, modelsDir, repoRoot, startService, y4mClip, type ServiceProcess } from '@vision/testing';

const CHROMIUM = '/usr/bin/chromium'; // Debian's package (.ci/run installs it)
// One red 32×32 square on grey at (320, 240) of a 640×480 camera: letterboxed at ratio 1 with 80 px
// padding it covers exactly the fixture detector's cell (10, 10), so the box is known to the pixel.
const SQUARE = { x: 320, y: 240, w: 32, h: 32 };

/** Upper bounds of the SDK's reconnect attempts after a drop: 1 s × 1.5^k each, +20 % jitter. */
function attemptBounds(n: number): number[] {
  const out: number[] = [];
  let t = 0;
  for (let k = 0; k < n; k++) out.push((t += 1.2 * 1000 * 1.5 ** k));
  return out;
}

describe('demo page in headless Chromium with a fake camera', () => {
  let browser: Browser | undefined;
  let server: ServiceProcess | undefined;
  afterAll(async () => {
    await browser?.close();
    await server?.kill('SIGKILL');
  });

  it('draws the boxes where the squares are, shows moving stats, and reconnects after the edge restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-'));
    const clip = join(dir, 'clip.y4m');
    writeFileSync(clip, y4mClip(640, 480, 10, [{ ...SQUARE, color: COLORS.red }]));
    const port = await freePort();
    // One ORT thread: Chromium's fake camera and page share the two cores, as in the fairness test.
    const env = {
      MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
      PORT: String(port),
      HOST: '127.0.0.1',
      INTRA_OP_THREADS: '1',
    };
    server = await startService('server', env);
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
    await page.goto(`http://127.0.0.1:${port}/demo/?autostart=camera`);
    await page.waitForFunction(
      () => (window as unknown as { demo: { results: number } }).demo.results >= 3,
      undefined,
      { timeout: 20_000 },
    );

    // Boxes, read back from the overlay canvas: the outline passes through the square's corners,
    // its inside and the rest of the frame stay transparent.
    const px = await page.evaluate(({ x, y, w, h }) => {
      const c = document.getElementById('overlay') as HTMLCanvasElement;
      const ctx = c.getContext('2d')!;
      const alpha = (px: number, py: number) => ctx.getImageData(px, py, 1, 1).data[3];
      const d = (
        window as unknown as {
          demo: { lastDetections: { name: string; xmin: number; ymin: number; xmax: number; ymax: number }[] };
        }
      ).demo.lastDetections;
      return {
        size: [c.width, c.height],
        corners: [alpha(x, y), alpha(x + w, y), alpha(x, y + h), alpha(x + w, y + h), alpha(x + w / 2, y)],
        inside: alpha(x + w / 2, y + h / 2),
        elsewhere: [alpha(100, 400), alpha(600, 50), alpha(x + w + 20, y + h + 20)],
        detections: d,
      };
    }, SQUARE);
    expect(px.size).toEqual([640, 480]);
    expect(px.detections).toHaveLength(1);
    expect(px.detections[0].name).toBe('red');
    const box = [px.detections[0].xmin, px.detections[0].ymin, px.detections[0].xmax, px.detections[0].ymax];
    box.forEach((v, i) =>
      expect(Math.abs(v - [SQUARE.x, SQUARE.y, SQUARE.x + SQUARE.w, SQUARE.y + SQUARE.h][i])).toBeLessThanOrEqual(2),
    );
    for (const a of px.corners) expect(a).toBeGreaterThan(0);
    expect(px.inside).toBe(0);
    expect(px.elsewhere).toEqual([0, 0, 0]);
    // Stats move.
    await page.waitForFunction(
      () =>
        Number(document.getElementById('rps')!.textContent) > 0 &&
        Number(document.getElementById('fps-sent')!.textContent) > 0,
    );
    expect(await page.textContent('#state')).toBe('open');
    mkdirSync(join(repoRoot(), 'results'), { recursive: true });
    await page.screenshot({ path: join(repoRoot(), 'results', 'demo.png') });

    // The edge dies; the page shows the countdown and comes back once the edge is restarted.
    await server.kill('SIGKILL');
    const droppedAt = Date.now();
    await page.waitForFunction(
      () => document.getElementById('state')!.textContent!.startsWith('reconnecting'),
      undefined,
      { timeout: 5000 },
    );
    const before = await page.evaluate(() => (window as unknown as { demo: { results: number } }).demo.results);
    server = await startService('server', env);
    const readyAt = Date.now();
    await page.waitForFunction((n) => (window as unknown as { demo: { results: number } }).demo.results > n, before, {
      timeout: 60_000,
    });
    const resumedAt = Date.now();
    const bound = attemptBounds(12).find((t) => t >= readyAt - droppedAt)!;
    console.log(
      'demo reconnect:',
      JSON.stringify({ downMs: readyAt - droppedAt, resumedAfterMs: resumedAt - droppedAt, scheduleBoundMs: bound }),
    );
    expect(resumedAt - droppedAt).toBeLessThanOrEqual(bound + 1500);
    expect(await page.textContent('#state')).toBe('open');
  });
});
