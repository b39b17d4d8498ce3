import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COLORS, drawScene, modelsDir, repoRoot } from '@vision/testing';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const run = promisify(execFile);
const cli = join(repoRoot(), 'apps/worker/dist/detect-cli.js');

describe('npm run detect', () => {
  it('prints one JSON line per image in original pixels, and an error line for a bad file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'detect-cli-'));
    const img = join(dir, 'square.png');
    writeFileSync(
      img,
      await drawScene({ width: 1280, height: 720, rects: [{ x: 640, y: 232, w: 64, h: 64, color: COLORS.red }] }),
    );
    const bad = join(dir, 'bad.jpg');
    writeFileSync(bad, 'nope');
    const model = join(modelsDir(), 'colors-v8-dyn.onnx');
    const result = await run(process.execPath, [cli, '--model', model, '--conf', '0.5', img, bad]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect('code' in result ? result.code : 0).toBe(1);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      [{ xmin: 640, ymin: 232, xmax: 704, ymax: 296, confidence: expect.closeTo(1, 1), class: 0, name: 'red' }],
      { error: { code: 'E_UNSUPPORTED_FORMAT', message: expect.any(String) } },
    ]);
  });

  it("prints a classifier's top classes instead of boxes", async () => {
    const img = join(mkdtempSync(join(tmpdir(), 'detect-cli-')), 'blue.png');
    writeFileSync(img, await drawScene({ width: 224, height: 224, background: COLORS.blue }));
    const model = join(modelsDir(), 'colors-cls-dyn.onnx');
    const { stdout } = await run(process.execPath, [cli, '--model', model, img]);
    const [line] = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; confidence: number }[]);
    // Pure blue: logits 4 for blue, -2 for red and green, 0.5 for dark.
    const exp = [4, -2, -2, 0.5].map(Math.exp);
    const total = exp.reduce((a, b) => a + b, 0);
    expect(line.map((c) => c.name)).toEqual(['blue', 'dark', 'red', 'green']);
    expect(line[0].confidence).toBeCloseTo(exp[0] / total, 4);
  });

  it('refuses a bad flag with a message naming it', async () => {
    const err = await run(process.execPath, [cli, '--model', 'x.onnx', '--conf', '7', 'a.jpg']).catch(
      (e: { stderr: string }) => e,
    );
    expect((err as { stderr: string }).stderr).toContain('--conf');
  });
});
