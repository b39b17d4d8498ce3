import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '@vision/auth';
import { COLORS, drawScene, repoRoot, startService, TEST_JWT_SECRET, type ServiceProcess } from '@vision/testing';

const run = promisify(execFile);
const root = repoRoot();

/**
 * The red square the fixture model must find: one of its 32-px cells on a 640×640 image (no
 * letterbox), so its box is exact.
 */
const SQUARE = { x: 128, y: 64, w: 32, h: 32 };

/** What a script in the outside project prints: where `@vision/client` resolved from, and the frame's outcome. */
interface Printed {
  resolved: string;
  outcome: {
    status: string;
    result?: { detections: { xmin: number; ymin: number; xmax: number; ymax: number; name: string }[] };
  };
}

// Node, CommonJS: `require('@vision/client')` (the package's `default` export, dist/index.js) with `ws` as the socket.
const NODE_SCRIPT = `
const WebSocket = require('ws');
const { readFileSync } = require('node:fs');
const { VisionClient } = require('@vision/client');
const [url, token, image] = process.argv.slice(2);
const client = new VisionClient({
  url,
  token,
  webSocket: (u, protocols, headers) => new WebSocket(u, protocols, { headers }),
});
client.send(readFileSync(image), { streamId: 'outside-1' }).then((outcome) => {
  console.log(JSON.stringify({ resolved: require.resolve('@vision/client'), outcome }));
  client.close();
});
`;

// A web app's code, bundled as a browser bundler would (the package's \`browser\` export): it takes
// the socket from its caller.
const APP_ENTRY = `
import { VisionClient } from '@vision/client';
export function detect(url, token, bytes, webSocket) {
  const client = new VisionClient({ url, token, webSocket });
  return client.send(bytes, { streamId: 'outside-2' }).finally(() => client.close());
}
`;

// Runs the bundle in Node with \`ws\` (Node 20 has no global WebSocket).
const RUN_BUNDLE = `
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import { detect } from './bundle.mjs';
const [url, token, image] = process.argv.slice(2);
const webSocket = (u, protocols, headers) => new WebSocket(u, protocols, { headers });
const outcome = await detect(url, token, readFileSync(image), webSocket);
console.log(JSON.stringify({ resolved: 'bundle', outcome }));
`;

/**
 * The SDK as a user outside this repository gets it: `npm pack` of `@vision/client` and
 * `@vision/wire` (and the repo's `ws`), installed offline from the tarballs into a fresh project
 * in the temp folder, used from Node (CommonJS) and through a bundler (the repo's esbuild), each
 * connecting to an embedded server with authentication on and a token minted by `mintToken`.
 */
describe('the SDK package outside the repository', () => {
  let dir: string;
  let app: string;
  let server: ServiceProcess;
  let token: string;
  let image: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vision-sdk-'));
    const packs = join(dir, 'packs');
    mkdirSync(packs);
    const packages = [join(root, 'libs', 'wire'), join(root, 'libs', 'client'), join(root, 'node_modules', 'ws')];
    const started = startService('server', {
      AUTH_DISABLED: '',
      JWT_SECRET: TEST_JWT_SECRET,
      HOST: '127.0.0.1',
      INTRA_OP_THREADS: '1',
    });
    await run('npm', ['pack', ...packages, '--pack-destination', packs, '--silent'], { cwd: dir });
    app = join(dir, 'app');
    mkdirSync(app);
    await run('npm', ['init', '-y'], { cwd: app });
    const tarballs = readdirSync(packs).map((f) => join(packs, f));
    expect(tarballs.map((t) => t.slice(packs.length + 1)).sort()).toEqual([
      'vision-client-0.1.0.tgz',
      'vision-wire-0.1.0.tgz',
      expect.stringMatching(/^ws-[\d.]+\.tgz$/),
    ]);
    // --offline: the tarballs are all it needs; no registry is asked.
    await run('npm', ['install', ...tarballs, '--offline', '--no-audit', '--no-fund'], { cwd: app });
    image = join(dir, 'square.png');
    writeFileSync(image, await drawScene({ width: 640, height: 640, rects: [{ ...SQUARE, color: COLORS.red }] }));
    ({ token } = await mintToken(
      { subject: 'sdk-outside', ttlS: 600, streams: ['outside-*'] },
      { secret: TEST_JWT_SECRET },
    ));
    server = await started;
  }, 90_000);

  afterAll(async () => {
    await server?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const url = () => `ws://127.0.0.1:${server.port}/ws/detect`;

  function expectRedSquare(p: Printed): void {
    expect(p.outcome.status, JSON.stringify(p.outcome)).toBe('result');
    const boxes = p.outcome.result!.detections;
    expect(boxes).toHaveLength(1);
    const b = boxes[0];
    expect(b.name).toBe('red');
    for (const [got, want] of [
      [b.xmin, SQUARE.x],
      [b.ymin, SQUARE.y],
      [b.xmax, SQUARE.x + SQUARE.w],
      [b.ymax, SQUARE.y + SQUARE.h],
    ])
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1);
  }

  it('installs the tarballs as a package of its own: built files and typings, no sources or tests', () => {
    const pkg = join(app, 'node_modules', '@vision', 'client');
    const files = readdirSync(join(pkg, 'dist'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'browser']));
    expect(readdirSync(pkg).sort()).toEqual(['dist', 'package.json']);
    expect(readdirSync(join(app, 'node_modules', '@vision', 'wire')).sort()).toEqual(['dist', 'package.json']);
  });

  it('works from Node: require("@vision/client") with ws, a minted token, boxes for a drawn image', async () => {
    writeFileSync(join(app, 'detect.cjs'), NODE_SCRIPT);
    const { stdout } = await run(process.execPath, ['detect.cjs', url(), token, image], { cwd: app, timeout: 20_000 });
    const printed = JSON.parse(stdout) as Printed;
    // Resolved inside the outside project, not the workspace.
    expect(printed.resolved).toBe(join(app, 'node_modules', '@vision', 'client', 'dist', 'index.js'));
    expectRedSquare(printed);
  });

  it("works through a bundler: esbuild bundles the package's browser build into a web app's code", async () => {
    writeFileSync(join(app, 'entry.mjs'), APP_ENTRY);
    writeFileSync(join(app, 'run.mjs'), RUN_BUNDLE);
    const esbuild = join(root, 'node_modules', '.bin', 'esbuild');
    await run(
      esbuild,
      [
        'entry.mjs',
        '--bundle',
        '--format=esm',
        '--platform=browser',
        '--outfile=bundle.mjs',
        '--metafile=meta.json',
        '--log-level=warning',
      ],
      { cwd: app },
    );
    const inputs = Object.keys(
      (JSON.parse(readFileSync(join(app, 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> }).inputs,
    );
    expect(inputs).toContain('node_modules/@vision/client/dist/browser/vision-client.js');
    const { stdout } = await run(process.execPath, ['run.mjs', url(), token, image], { cwd: app, timeout: 20_000 });
    expectRedSquare(JSON.parse(stdout) as Printed);
  });

  it('talks to a server that checks tokens: the same frame without one is refused', async () => {
    const r = await fetch(`http://127.0.0.1:${server.port}/v1/detect`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: readFileSync(image),
    });
    expect(r.status).toBe(401);
  });
});
