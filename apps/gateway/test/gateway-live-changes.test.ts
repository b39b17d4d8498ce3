import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMovingSquare, modelsDir, startService, type ServiceProcess, sleep } from '@vision/testing';
import { alive, gatewayApi, processesWith, waitFor, type CameraView } from './gateway-harness';

const FPS = 3;
const STEADY = Array.from({ length: 8 }, (_, i) => `cam-${i}`);

/**
 * Cameras added, changed, paused and removed through the API and through the cameras file (its
 * watcher and SIGHUP) while 8 others stream: the 8 keep their ffmpeg child, their frame ids and
 * their rate; every child of a removed camera, and at shutdown every child, is gone.
 */
describe('gateway: live changes while 8 cameras stream', () => {
  let dir: string;
  let clip: string;
  let file: string;
  let server: ServiceProcess;
  let gateway: ServiceProcess;
  let api: ReturnType<typeof gatewayApi>;

  /** Rewrites the cameras file the way an operator's tool would (a new file renamed over it). */
  const writeCameras = (cameras: unknown[]) => {
    writeFileSync(`${file}.new`, JSON.stringify({ cameras }));
    renameSync(`${file}.new`, file);
  };
  const fileCameras = () =>
    (JSON.parse(readFileSync(file, 'utf8')) as { cameras: { id: string; fps?: number }[] }).cameras;
  const streaming = (id: string, not?: number) =>
    waitFor(`${id} streaming`, async () => {
      const c = await api.camera(id);
      return c.state === 'streaming' && c.pid !== null && c.pid !== not ? c : undefined;
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-live-'));
    file = join(dir, 'cameras.json');
    clip = await encodeMovingSquare(dir, { width: 320, height: 180, fps: 10, y: 10, size: 32, speed: 144 }, 'mp4');
    writeCameras(STEADY.map((id) => ({ id, url: clip, fps: FPS })));
    server = await startService('server', {
      MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
      TENANT_MAX_QUEUE: '64',
    });
    gateway = await startService('gateway', {
      CAMERAS_FILE: file,
      CAMERAS_FILE_POLL_MS: '1000',
      GATEWAY_EDGE_URLS: `ws://127.0.0.1:${server.port}/ws/detect`,
    });
    api = gatewayApi(gateway);
    await waitFor(
      '8 cameras streaming with results',
      async () => {
        const cams = await api.cameras();
        return cams.length === 8 && cams.every((c) => c.state === 'streaming' && c.stats.results > 0)
          ? true
          : undefined;
      },
      20_000,
    );
  });

  afterAll(async () => {
    await Promise.all([gateway, server].map((p) => p?.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, changes, pauses, removes cameras (API, file); the other 8 miss no frame; no child left', async () => {
    const t0 = Date.now();
    const before = new Map((await api.cameras()).map((c) => [c.id, c]));
    const children: number[] = [...before.values()].map((c) => c.pid!);

    // API: add (persisted to the file), change (restarted), pause and resume, remove.
    const added = await api.call('POST', '/v1/cameras', { id: 'api-x', url: clip, fps: FPS });
    expect(added.status, added.text).toBe(201);
    expect(fileCameras().map((c) => c.id)).toContain('api-x');
    expect(statSync(file).mode & 0o777).toBe(0o600); // it holds camera credentials
    const a1 = await streaming('api-x');
    const changed = await api.call('PATCH', '/v1/cameras/api-x', { fps: 2 });
    expect(changed.status, changed.text).toBe(200);
    expect(alive(a1.pid!)).toBe(false); // the old child was reaped before the answer
    const a2 = await streaming('api-x', a1.pid!);
    expect(fileCameras().find((c) => c.id === 'api-x')?.fps).toBe(2);
    const paused = (await api.call('POST', '/v1/cameras/api-x/pause')).json as CameraView;
    expect([paused.state, paused.paused, paused.stopReason, paused.pid]).toEqual(['stopped', true, 'paused', null]);
    await waitFor('the paused camera child gone', () => (alive(a2.pid!) ? undefined : true), 5000);
    expect(((await api.call('POST', '/v1/cameras/api-x/resume')).json as CameraView).paused).toBe(false);
    const a3 = await streaming('api-x', a2.pid!);

    // The file: a camera added by rewriting it (the watcher), then changed in place with SIGHUP.
    const t = Math.floor(Date.now() / 1000) - 100;
    writeCameras([...fileCameras(), { id: 'file-x', url: clip, fps: 4 }]);
    const f1 = await streaming('file-x');
    expect(
      gateway.logs.some(
        (l) =>
          l['msg'] === 'cameras applied' && l['why'] === 'file changed' && (l['added'] as string[]).includes('file-x'),
      ),
    ).toBe(true);
    // Pin the mtime to a whole second (the watcher sees this and finds nothing to do), then edit
    // in place keeping size, inode and mtime: only SIGHUP can notice.
    utimesSync(file, t, t);
    await sleep(2500);
    const text = readFileSync(file, 'utf8');
    const edited = text.replace(/("id":"file-x","url":"[^"]+","fps":)4/, '$12');
    expect(edited.length).toBe(text.length);
    expect(edited).not.toBe(text);
    const fd = openSync(file, 'r+');
    writeSync(fd, edited, 0);
    closeSync(fd);
    utimesSync(file, t, t);
    gateway.proc.kill('SIGHUP');
    await waitFor(
      'a SIGHUP reload',
      () =>
        gateway.logs.some((l) => l['why'] === 'SIGHUP' && (l['updated'] as string[] | undefined)?.includes('file-x'))
          ? true
          : undefined,
      5000,
    );
    const f2 = await streaming('file-x', f1.pid!);
    expect(alive(f1.pid!)).toBe(false);

    const removed = await api.call('DELETE', '/v1/cameras/api-x');
    expect(removed.status).toBe(204);
    expect(alive(a3.pid!)).toBe(false);
    expect((await api.call('GET', '/v1/cameras/api-x')).status).toBe(404);
    expect(fileCameras().map((c) => c.id)).not.toContain('api-x');
    writeCameras(fileCameras().filter((c) => c.id !== 'file-x'));
    await waitFor(
      'file-x removed',
      async () => ((await api.call('GET', '/v1/cameras/file-x')).status === 404 ? true : undefined),
      5000,
    );
    expect(alive(f2.pid!)).toBe(false);
    children.push(a1.pid!, a2.pid!, a3.pid!, f1.pid!, f2.pid!);

    // The 8: same child, no reconnect, one frame id per frame, frames at their rate all along, every frame
    // accounted for.
    const elapsed = (Date.now() - t0) / 1000;
    const after = await api.cameras();
    expect(after.map((c) => c.id)).toEqual(STEADY);
    for (const c of after) {
      const b = before.get(c.id)!;
      expect(c.pid, c.id).toBe(b.pid);
      expect(c.stats.reconnects, c.id).toBe(0);
      expect(c.stats.lastFrameId, c.id).toBe(c.stats.framesIn);
      expect(c.stats.framesIn - b.stats.framesIn, c.id).toBeGreaterThanOrEqual(Math.floor(FPS * elapsed * 0.85));
      expect(c.stats.errors, c.id).toBe(0);
      const open = c.stats.framesIn - c.stats.sent - c.stats.skipped;
      expect(open, c.id).toBeGreaterThanOrEqual(0);
      expect(open, c.id).toBeLessThanOrEqual(3);
      expect(c.stats.skipped, c.id).toBeLessThanOrEqual(Math.ceil(c.stats.framesIn * 0.05));
    }

    // Shutdown: the gateway exits cleanly and takes every child with it.
    expect(await gateway.kill('SIGTERM')).toBe(0);
    for (const pid of children) expect(alive(pid), `ffmpeg ${pid}`).toBe(false);
    expect(processesWith(dir)).toEqual([]);
  });
});
