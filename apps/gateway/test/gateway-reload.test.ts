import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMovingSquare, freePort, startService, type ServiceProcess, sleep } from '@vision/testing';
import { alive, gatewayApi, waitFor, type CameraView } from './gateway-harness';

const FPS = 3;

/**
 * `POST /v1/reload` and SIGHUP re-read the cameras file on demand; a file that turns bad while the
 * gateway runs changes nothing (every camera keeps its child and its frames) and is reported with a
 * stable code: the API's answer, and the log line for SIGHUP and the watcher. The watcher polls once
 * a minute here, so only the explicit reloads can apply anything during the test.
 */
describe('gateway: reloading the cameras file at run time', () => {
  let dir: string;
  let file: string;
  let clip: string;
  let gateway: ServiceProcess | undefined;
  let api: ReturnType<typeof gatewayApi>;

  /** A new file renamed over the old one, as an operator's tool writes it. */
  const writeCameras = (text: string) => {
    writeFileSync(`${file}.new`, text);
    renameSync(`${file}.new`, file);
  };
  const camerasText = (cameras: unknown[]) => JSON.stringify({ cameras });
  const byId = async () => new Map((await api.cameras()).map((c) => [c.id, c]));
  const streaming = (ids: string[]) =>
    waitFor(`${ids.join(', ')} streaming`, async () => {
      const cams = await byId();
      return ids.every((id) => cams.get(id)?.state === 'streaming' && cams.get(id)?.pid) ? cams : undefined;
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-reload-'));
    file = join(dir, 'cameras.json');
    clip = await encodeMovingSquare(dir, { width: 320, height: 180, fps: 10, y: 10, size: 32, speed: 144 }, 'mp4');
    writeCameras(
      camerasText([
        { id: 'cam-a', url: clip, fps: FPS },
        { id: 'cam-b', url: clip, fps: FPS },
      ]),
    );
    gateway = await startService('gateway', {
      CAMERAS_FILE: file,
      CAMERAS_FILE_POLL_MS: '60000',
      // Nothing listens there: the test watches the sources, not the edge.
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${await freePort()}/ws/detect`,
    });
    api = gatewayApi(gateway);
  });

  afterAll(async () => {
    await gateway?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a changed file on POST /v1/reload; a bad one answers its code, the running cameras go on', async () => {
    const start = await streaming(['cam-a', 'cam-b']);
    const pidA = start.get('cam-a')!.pid!;
    const pidB = start.get('cam-b')!.pid!;

    // A good change: one camera added, one changed, one left alone.
    writeCameras(
      camerasText([
        { id: 'cam-a', url: clip, fps: FPS },
        { id: 'cam-b', url: clip, fps: 2 },
        { id: 'cam-c', url: clip, fps: FPS },
      ]),
    );
    const applied = await api.call('POST', '/v1/reload');
    expect([applied.status, applied.json]).toEqual([
      200,
      { reloaded: true, added: ['cam-c'], updated: ['cam-b'], removed: [], cameras: 3 },
    ]);
    expect(alive(pidB)).toBe(false); // cam-b's old child was reaped before the answer
    const running = await streaming(['cam-a', 'cam-b', 'cam-c']);
    expect(running.get('cam-a')!.pid).toBe(pidA);
    const pids = new Map([...running].map(([id, c]) => [id, c.pid!]));

    // Bad files, through the API: not JSON, an invalid field (and cam-a dropped, which must not happen).
    const cases: [string, string, RegExp][] = [
      ['{"cameras": [', 'E_CAMERA_INVALID', /^the cameras file is not JSON/],
      [
        camerasText([
          { id: 'cam-b', url: clip, fps: 2 },
          { id: 'cam-c', url: clip, fps: 'fast' },
        ]),
        'E_CAMERA_INVALID',
        /^cameras\[1\]\.fps: /,
      ],
    ];
    const before = await byId();
    for (const [text, code, message] of cases) {
      writeCameras(text);
      const refused = await api.call('POST', '/v1/reload');
      const error = (refused.json as { error: { code: string; message: string } }).error;
      expect([refused.status, error.code], refused.text).toEqual([400, code]);
      expect(error.message).toMatch(message);
    }
    // SIGHUP with the bad file: the same refusal, in the log with its code.
    gateway!.proc.kill('SIGHUP');
    const notApplied = (l: Record<string, unknown>) => String(l['msg']).startsWith('cameras file not applied');
    const logged = await gateway!.waitForLog((l) => notApplied(l) && l['why'] === 'SIGHUP', 5000);
    expect(logged['code']).toBe('E_CAMERA_INVALID');
    expect(logged['err']).toMatch(/^cameras\[1\]\.fps: /);
    expect(gateway!.logs.filter(notApplied).map((l) => [l['why'], l['code']])).toEqual([
      ['api', 'E_CAMERA_INVALID'],
      ['api', 'E_CAMERA_INVALID'],
      ['SIGHUP', 'E_CAMERA_INVALID'],
    ]);

    // Nothing changed: the same three cameras, the same children, frames still coming.
    await sleep(1500);
    const after = await byId();
    expect([...after.keys()]).toEqual(['cam-a', 'cam-b', 'cam-c']);
    for (const [id, c] of after) {
      const was = before.get(id) as CameraView;
      expect([id, c.state, c.pid, c.stats.reconnects]).toEqual([id, 'streaming', pids.get(id), 0]);
      expect(c.stats.framesIn, id).toBeGreaterThan(was.stats.framesIn);
    }
    expect(gateway!.proc.exitCode).toBeNull();
  });
});
