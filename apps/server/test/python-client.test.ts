import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COLORS,
  drawScene,
  modelsDir,
  repoRoot,
  signTestToken,
  startService,
  TEST_JWT_SECRET,
  type ServiceProcess,
} from '@vision/testing';

const run = promisify(execFile);
// Debian's interpreter, where python3-websockets is installed (.ci/run installs it).
const PYTHON = '/usr/bin/python3';

describe('examples/python/vision_client.py against a running edge', () => {
  let server: ServiceProcess;

  beforeAll(async () => {
    server = await startService('server', {
      MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
    });
  });
  afterAll(async () => {
    await server?.kill('SIGKILL');
  });

  it('sends image files with a bearer token and prints one JSON reply per frame', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'py-'));
    const files = await Promise.all(
      [COLORS.red, COLORS.blue].map(async (color, i) => {
        const f = join(dir, `f${i}.jpg`);
        writeFileSync(
          f,
          await drawScene({
            width: 1280,
            height: 720,
            format: 'jpeg',
            rects: [{ x: 640, y: 232, w: 64, h: 64, color }],
          }),
        );
        return f;
      }),
    );
    const url = `ws://127.0.0.1:${server.port}/ws/detect`;
    const script = join(repoRoot(), 'examples', 'python', 'vision_client.py');
    const { stdout } = await run(
      PYTHON,
      [script, '--url', url, '--token', await signTestToken(), '--stream', 'py-cam', ...files],
      { timeout: 30_000 },
    );
    const replies = stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            frameId: number;
            streamId: string;
            detections: { name: string; xmin: number }[];
          },
      );
    expect(replies.map((r) => r.type)).toEqual(['result', 'result']);
    expect(replies.map((r) => r.streamId)).toEqual(['py-cam', 'py-cam']);
    expect(replies.sort((a, b) => a.frameId - b.frameId).map((r) => r.detections.map((d) => [d.name, d.xmin]))).toEqual(
      [[['red', 640]], [['blue', 640]]],
    );
    // Without the token the edge refuses the upgrade and the client backs off instead of crashing.
    const refused = await run(PYTHON, [script, '--url', url, ...files], { timeout: 3000 }).catch(
      (e: { stdout: string }) => e,
    );
    expect(refused.stdout).toContain('"type": "reconnecting"');
  });
});
