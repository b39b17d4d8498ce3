import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  signTestToken,
  CONSOLE_CAMERA as CAMERA,
  CONSOLE_FILE_RULE as FILE_RULE,
  CONSOLE_SQUARE as SQUARE,
  startConsoleSite,
  type ConsoleSite,
  sleep,
} from '@vision/testing';

const CHROMIUM = '/usr/bin/chromium'; // Debian's package (.ci/run installs it)
/** The drawn line, as fractions of the picture: across the square's path (y 0.5–0.59). */
const LINE = { from: [0.5, 0.05], to: [0.5, 0.9] } as const;

interface SavedRule {
  id: string;
  type: string;
  units: string;
  from: [number, number];
  to: [number, number];
  classes?: string[];
  source: string;
}

/**
 * The site console in headless Chromium against real services behind nginx: a gateway streaming a
 * generated clip through an edge and a worker, and the events service on Redis.
 */
describe('site console', () => {
  let site: ConsoleSite;
  let browser: Browser;
  let operator: string;
  let viewer: string;

  beforeAll(async () => {
    [site, browser, operator, viewer] = await Promise.all([
      startConsoleSite(),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
      signTestToken({ sub: 'ops', scope: 'cameras:read cameras:write events:read events:write' }),
      signTestToken({ sub: 'viewer', scope: 'cameras:read events:read' }),
    ]);
  }, 60_000);

  // A failed test leaves its page polling the site; the next one starts without it.
  afterEach(async () => {
    await Promise.all(browser?.contexts().map((c) => c.close()) ?? []);
  });

  afterAll(async () => {
    await browser?.close();
    await site?.stop();
  });

  async function signIn(token: string): Promise<Page> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const scriptErrors: string[] = [];
    page.on('pageerror', (err) => scriptErrors.push(err.message));
    const res = await page.goto(`${site.origin}/console/`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect(page.textContent('#scopes-needed')).resolves.toContain('events:write');
    await page.fill('#token', token);
    await page.click('#sign-in button[type=submit]');
    expect(page.url()).not.toContain(token.slice(-20));
    expect(scriptErrors).toEqual([]);
    return page;
  }

  /** Where a fraction of the picture is on the page. */
  async function pictureAt(page: Page, [fx, fy]: readonly number[]): Promise<{ x: number; y: number }> {
    const box = (await page.locator('#overlay').boundingBox())!;
    return { x: box.x + fx * box.width, y: box.y + fy * box.height };
  }

  it('shows the camera streaming on the wall, with a fresh picture', async () => {
    const page = await signIn(operator);
    const tile = page.locator(`.tile[data-camera="${CAMERA}"]`);
    await expect(tile.locator('.state').textContent({ timeout: 30_000 })).resolves.toBeTruthy();
    await page.waitForFunction(
      (cam) => document.querySelector(`.tile[data-camera="${cam}"] .state`)?.textContent === 'streaming',
      CAMERA,
      { timeout: 30_000 },
    );
    // The picture is the snapshot (a blob: URL, loaded), and it changes: the wall refreshes it.
    const src = () =>
      page.waitForFunction(
        ([cam, width]) => {
          const img = document.querySelector<HTMLImageElement>(`.tile[data-camera="${cam}"] img`);
          return img?.complete && img.naturalWidth === width ? img.src : undefined;
        },
        [CAMERA, SQUARE.width] as const,
        { timeout: 15_000 },
      );
    const first = await (await src()).jsonValue();
    expect(first).toMatch(/^blob:/);
    await page.waitForFunction(
      ([cam, was]) => document.querySelector<HTMLImageElement>(`.tile[data-camera="${cam}"] img`)?.src !== was,
      [CAMERA, first],
      { timeout: 5000 },
    );
    await expect(tile.locator('.fps').textContent()).resolves.toMatch(new RegExp(`/ ${SQUARE.fps} fps`));

    // Scrolled far out of view, the tile keeps its picture and stops asking; back in view, it asks again.
    const snapshots: string[] = [];
    page.on('request', (req) => {
      if (req.url().endsWith(`/v1/cameras/${CAMERA}/snapshot`)) snapshots.push(req.url());
    });
    const far = 'document.getElementById("wall").style.marginTop = "5000px"';
    await page.evaluate(far);
    await sleep(1500); // a request already under way when it left the view
    const asked = snapshots.length;
    await sleep(3000);
    expect(snapshots.length).toBe(asked);
    const shown = await page.evaluate(
      (cam) => document.querySelector<HTMLImageElement>(`.tile[data-camera="${cam}"] img`)?.src,
      CAMERA,
    );
    await page.evaluate('document.getElementById("wall").style.marginTop = ""');
    await page.waitForFunction(
      ([cam, was]) => document.querySelector<HTMLImageElement>(`.tile[data-camera="${cam}"] img`)?.src !== was,
      [CAMERA, shown],
      { timeout: 5000 },
    );
    expect(snapshots.length).toBeGreaterThan(asked);
    await page.context().close();
  }, 60_000);

  it('saves a drawn line at the clicked coordinates; events arrive live, counted and in the CSV', async () => {
    const page = await signIn(operator);
    await page.click(`.tile[data-camera="${CAMERA}"]`);
    await page.waitForSelector('#overlay');
    await page.click('#new-line');
    await page.fill('#rule-id', 'gate');
    for (const p of [LINE.from, LINE.to]) {
      const at = await pictureAt(page, p);
      await page.mouse.click(at.x, at.y);
    }
    // Standing at the top end facing down, `in` (left to right) points west; flipping turns it east.
    const arrowEnd = async () => Number(await page.locator('#draft .in-arrow').getAttribute('x2'));
    await page.waitForSelector('#draft .in-arrow', { state: 'attached' });
    expect(await arrowEnd()).toBeLessThan(0.5);
    await page.click('#flip');
    expect(await arrowEnd()).toBeGreaterThan(0.5);
    await page.click('#flip');
    expect(await arrowEnd()).toBeLessThan(0.5);
    await page.check('#classes input[value="red"]');
    await page.click('#save-rule');
    await page.waitForSelector('#rules tr[data-rule="gate"]');

    const res = await fetch(`http://127.0.0.1:${site.events.port}/v1/events/cameras/${CAMERA}/rules`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    const rule = ((await res.json()) as { rules: SavedRule[] }).rules.find((r) => r.id === 'gate')!;
    expect(rule).toMatchObject({ type: 'line', units: 'norm', classes: ['red'], source: 'api' });
    for (const [got, want] of [
      ...rule.from.map((v, i) => [v, LINE.from[i]]),
      ...rule.to.map((v, i) => [v, LINE.to[i]]),
    ])
      expect(Math.abs(got - want)).toBeLessThanOrEqual(0.01);

    // The walk crosses the drawn line once a pass: the first crossing reaches the timeline within 3 s
    // of its capture, and the line's count is the number of crossings the timeline shows.
    const saved = Date.now();
    const firstCrossing = await page.waitForFunction(
      (after) => {
        const row = document.querySelector('#timeline tr[data-kind="line.cross"][data-rule="gate"]');
        const ts = Number(row?.getAttribute('data-ts'));
        return ts > after ? ts : undefined;
      },
      saved,
      { timeout: 15_000, polling: 50 },
    );
    expect(Date.now() - Number(await firstCrossing.jsonValue())).toBeLessThan(3000);
    const tally = await page.waitForFunction(
      () => {
        const rows = document.querySelectorAll('#timeline tr[data-kind="line.cross"][data-rule="gate"]').length;
        const text = document.querySelector('#counts tr[data-rule="gate"] .count')?.textContent ?? '';
        const m = /in (\d+) · out (\d+)/.exec(text);
        return m && Number(m[1]) + Number(m[2]) === rows ? { rows, text } : undefined;
      },
      undefined,
      { timeout: 5000, polling: 50 },
    );
    expect((await tally.jsonValue())!.rows).toBeGreaterThanOrEqual(1);

    // The timeline is live: an event captured after this moment arrives from /ws/events within
    // 3 s of its capture (the clip's square makes zone events in the site file's rule), and the
    // rule's count shows it.
    const since = Date.now();
    const newest = await page.waitForFunction(
      ([rule, after]) => {
        const row = document.querySelector(`#timeline tr[data-kind="zone.enter"][data-rule="${rule}"]`);
        const ts = Number(row?.getAttribute('data-ts'));
        return ts > after ? ts : undefined;
      },
      [FILE_RULE.id, since] as const,
      { timeout: 15_000, polling: 50 },
    );
    expect(Date.now() - Number(await newest.jsonValue())).toBeLessThan(3000);
    await expect(page.textContent(`#counts tr[data-rule="${FILE_RULE.id}"] .count`)).resolves.toMatch(
      /[1-9]\d* inside/,
    );
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.split('\r\n')[0]).toBe('ts,time,camera,rule,ruleType,kind,track,class,direction,id');
    expect(csv).toMatch(new RegExp(`,${CAMERA},${FILE_RULE.id},zone,zone\\.enter,\\d+,red,,ev_`));
    await page.context().close();
  }, 60_000);

  it("shows an event's picture (the frame it was computed from, the crop of its box) and plays its clip", async () => {
    const page = await signIn(operator);
    await page.click(`.tile[data-camera="${CAMERA}"]`);
    const button = `#timeline tr[data-kind="zone.enter"][data-rule="${FILE_RULE.id}"] button.picture`;
    await page.waitForSelector(button, { timeout: 15_000 });
    await page.click(button);
    await page.waitForSelector('#event-picture[data-state="shown"]', { timeout: 15_000 });
    const sizes = await page.evaluate(() =>
      ['#event-frame', '#event-crop'].map((id) => {
        const img = document.querySelector(id) as HTMLImageElement;
        return img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0];
      }),
    );
    // The clip's frame, and a crop no larger than it around the square (the fixture detector's box).
    expect(sizes[0]).toEqual([SQUARE.width, SQUARE.height]);
    expect(sizes[1][0]).toBeGreaterThan(0);
    expect(sizes[1][0]).toBeLessThan(SQUARE.width / 2);
    // Its clip, from the gateway's recording of the camera, plays in the page (a blob: URL).
    await page.click('#play-clip');
    const clip = await page.waitForFunction(
      () => {
        const video = document.querySelector<HTMLVideoElement>('#event-clip');
        return video && video.readyState >= 1 ? { width: video.videoWidth, duration: video.duration } : undefined;
      },
      undefined,
      { timeout: 30_000, polling: 100 },
    );
    const { width, duration } = (await clip.jsonValue())!;
    expect(width).toBe(SQUARE.width);
    expect(duration).toBeGreaterThan(1);
    await page.click('#close-picture');
    await page.waitForSelector('#event-picture', { state: 'detached' });
    await page.context().close();
  }, 60_000);

  it('boxes the live tracks; draws a zone with an inserted corner, a dwell and an inertia', async () => {
    const page = await signIn(operator);
    await page.click(`.tile[data-camera="${CAMERA}"]`);
    await page.waitForSelector('#overlay');
    // The square is a confirmed track: its box and id come over the feed, frame by frame (each
    // frame's set replaces the last, so one look takes the id, the label and the box together).
    const seen = await page.waitForFunction(
      () => {
        const track = document.querySelector('#tracks .track');
        const box = track?.querySelector('rect')?.getBoundingClientRect();
        return track && box
          ? { id: track.getAttribute('data-track'), label: track.textContent, width: box.width }
          : undefined;
      },
      undefined,
      { timeout: 15_000, polling: 50 },
    );
    const { id, label, width } = (await seen.jsonValue())!;
    expect(Number(id)).toBeGreaterThan(0);
    expect(label).toBe(`#${id} red`);
    expect(width).toBeGreaterThan(0);

    await page.click('#new-zone');
    await page.fill('#rule-id', 'bay');
    const corners = [
      [0.6, 0.5],
      [0.9, 0.5],
      [0.9, 0.9],
    ] as const;
    // Clicking New zone scrolled the page to the button; the mouse clicks where the picture is on screen.
    await page.evaluate(() => window.scrollTo(0, 0));
    for (const p of corners) {
      const at = await pictureAt(page, p);
      await page.mouse.click(at.x, at.y);
    }
    await expect(page.locator('#draft .vertex').count()).resolves.toBe(3);
    // The closing edge's midpoint handle adds a corner halfway from the third corner back to the first.
    await page.click('#draft .midpoint[data-after="2"]');
    await expect(page.locator('#draft .vertex').count()).resolves.toBe(4);
    await page.fill('#rule-dwell', '2');
    await page.fill('#rule-inertia', '3');
    await page.click('#save-rule');
    await page.waitForSelector('#rules tr[data-rule="bay"]');
    const res = await fetch(`http://127.0.0.1:${site.events.port}/v1/events/cameras/${CAMERA}/rules`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    const bay = (
      (await res.json()) as { rules: (SavedRule & { polygon: number[][]; dwellS: number; inertia: number })[] }
    ).rules.find((r) => r.id === 'bay')!;
    expect(bay).toMatchObject({ type: 'zone', dwellS: 2, inertia: 3 });
    expect(bay.polygon).toHaveLength(4);
    const wanted = [...corners, [0.75, 0.7]];
    for (const [i, p] of bay.polygon.entries())
      for (const k of [0, 1]) expect(Math.abs(p[k] - wanted[i][k])).toBeLessThanOrEqual(0.01);
    await page.context().close();
  }, 60_000);

  it('filters the timeline by time range', async () => {
    const page = await signIn(operator);
    await page.click(`.tile[data-camera="${CAMERA}"]`);
    const rows = page.locator('#timeline tr');
    await rows.first().waitFor({ timeout: 15_000 });
    // datetime-local takes local time: the browser writes it.
    const local = (offsetMs: number) =>
      page.evaluate((ms) => {
        const d = new Date(Date.now() + ms);
        d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
        return d.toISOString().slice(0, 19);
      }, offsetMs);
    await page.fill('#filter-from', await local(3_600_000));
    await expect(rows.count()).resolves.toBe(0);
    await page.fill('#filter-from', await local(-3_600_000));
    await page.fill('#filter-to', await local(3_600_000));
    await rows.first().waitFor();
    expect(await rows.count()).toBeGreaterThan(0);
    await page.context().close();
  }, 60_000);

  it("shows the API's E_BAD_RULE on the line's field for a zero-length line", async () => {
    const page = await signIn(operator);
    await page.click(`.tile[data-camera="${CAMERA}"]`);
    await page.waitForSelector('#overlay');
    await page.click('#new-line');
    await page.fill('#rule-id', 'dot');
    const at = await pictureAt(page, [0.3, 0.7]);
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('#draft .vertex[data-vertex="0"]', { state: 'attached', timeout: 5000 });
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('#draft .vertex[data-vertex="1"]', { state: 'attached', timeout: 5000 });
    await page.click('#save-rule');
    const shown = await page.waitForSelector('#geometry .field-error');
    expect(await shown.getAttribute('data-code')).toBe('E_BAD_RULE');
    expect(await shown.getAttribute('data-field')).toBe('to');
    await page.context().close();
  }, 30_000);

  it('offers a read-only token no edit controls, and the API refuses its forged edit', async () => {
    const page = await signIn(viewer);
    await page.click(`.tile[data-camera="${CAMERA}"]`);
    await page.waitForSelector(`#rules tr[data-rule="${FILE_RULE.id}"] .read-only`, { timeout: 10_000 });
    await page.waitForSelector('#feed-state:text("(open)")', { timeout: 10_000 });
    for (const control of ['#new-line', '#new-zone', '.edit-rule', '.delete-rule', '#rule-editor'])
      expect(await page.locator(control).count(), control).toBe(0);
    const forged = await page.evaluate(
      async ([token, camera]) => {
        const r = await fetch(`/v1/events/cameras/${camera}/rules/forged`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id: 'forged', type: 'line', from: [0.1, 0.1], to: [0.9, 0.9] }),
        });
        return { status: r.status, body: (await r.json()) as { error: { code: string } } };
      },
      [viewer, CAMERA],
    );
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('E_FORBIDDEN');
    await page.context().close();
  }, 30_000);
  it("changes a camera's fps: a bad value shows the gateway's message on the field, a good one is saved", async () => {
    const page = await signIn(operator);
    const tile = page.locator(`.tile[data-camera="${CAMERA}"]`);
    await tile.locator('button.change').click();
    const form = page.locator('#change-camera');
    await expect(form.locator('input[name="id"]').isDisabled()).resolves.toBe(true);
    await expect(form.locator('input[name="fps"]').inputValue()).resolves.toBe(String(SQUARE.fps));
    await form.locator('input[name="fps"]').fill('100000');
    await form.locator('button[type="submit"]').click();
    await expect(form.locator('.field-error[data-field="fps"]').textContent()).resolves.toMatch(
      /^E_CAMERA_INVALID: Too big/,
    );
    const fps = SQUARE.fps - 1;
    await form.locator('input[name="fps"]').fill(String(fps));
    await form.locator('button[type="submit"]').click();
    await form.waitFor({ state: 'detached' });
    await page.waitForFunction(
      ([cam, want]) =>
        document.querySelector(`.tile[data-camera="${cam}"] .fps`)?.textContent?.endsWith(`/ ${want} fps`),
      [CAMERA, fps] as const,
      { timeout: 10_000 },
    );
    const res = await fetch(`http://127.0.0.1:${site.gateway.port}/v1/cameras/${CAMERA}`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    // Only the changed field was sent: the URL is the clip's as before.
    expect((await res.json()) as { fps: number; url: string }).toMatchObject({
      fps,
      url: expect.stringMatching(/\.mp4$/),
    });
    // Back as it was, for the tests after this one.
    await tile.locator('button.change').click();
    await form.locator('input[name="fps"]').fill(String(SQUARE.fps));
    await form.locator('button[type="submit"]').click();
    await form.waitFor({ state: 'detached' });
    await page.context().close();
  }, 60_000);

  it("shows the gateway's message on the fps field, and a removed camera leaves the wall and stops", async () => {
    const page = await signIn(operator);
    await page.waitForSelector(`.tile[data-camera="${CAMERA}"] .remove`);
    await page.click('#show-add-camera');
    await page.fill('#add-camera input[name=id]', 'bad-fps');
    await page.fill('#add-camera input[name=url]', '/nowhere.mp4');
    await page.fill('#add-camera input[name=fps]', '500');
    await page.click('#add-camera button[type=submit]');
    const shown = await page.waitForSelector('#add-camera .field-error[data-field="fps"]');
    expect(await shown.getAttribute('data-code')).toBe('E_CAMERA_INVALID');
    expect(await shown.textContent()).toMatch(/60/);

    const gateway = `http://127.0.0.1:${site.gateway.port}/v1/cameras/${CAMERA}`;
    const auth = { headers: { authorization: `Bearer ${operator}` } };
    const { pid } = (await (await fetch(gateway, auth)).json()) as { pid: number };
    expect(() => process.kill(pid, 0)).not.toThrow();
    page.once('dialog', (d) => void d.accept());
    await page.click(`.tile[data-camera="${CAMERA}"] .remove`);
    await page.waitForSelector(`.tile[data-camera="${CAMERA}"]`, { state: 'detached', timeout: 10_000 });
    expect((await fetch(gateway, auth)).status).toBe(404);
    expect(() => process.kill(pid, 0)).toThrow();
    await page.context().close();
  }, 30_000);
});
