import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { toWireError } from '@vision/wire';
import { modelOptionsFrom, parseNamesFile, silentLogger, YoloModel } from '@vision/yolo';
import { EXECUTION_PROVIDERS, loadConfig, type ExecutionProviderName } from '@vision/config';

/**
 * `npm run detect -- --model yolov8n.onnx a.jpg b.png`: one line per image, a JSON array of
 * `{xmin, ymin, xmax, ymax, confidence, class, name}` in original pixels (what the WebSocket
 * service returns; a classifier's `{class, name, confidence}` top classes instead), or
 * `{"error": {code, message}}` for an image that cannot be read.
 */
const num = (lo: number, hi: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new InvalidArgumentError(`expected a number in [${lo}, ${hi}]`);
  return n;
};

async function main(): Promise<number> {
  const defaults = loadConfig({});
  const program = new Command('detect')
    .description('Run a YOLO ONNX export on images and print detections, one JSON line per image')
    .requiredOption('-m, --model <file>', 'ONNX model (any Ultralytics detect or classify export)')
    .option('--conf <n>', 'confidence threshold', num(0, 1), defaults.model.confThreshold)
    .option('--iou <n>', 'NMS IoU threshold', num(0, 1), defaults.model.iouThreshold)
    .option('--max-det <n>', 'most detections per image', num(1, 100000), defaults.model.maxDetections)
    .option('--names <file>', 'class names file (one per line, or a list/dict literal)')
    .option('--provider <name>', `execution provider (${EXECUTION_PROVIDERS.join(', ')})`, 'cpu')
    .option('--describe', 'print what was learned from the model file to stderr')
    .argument('<images...>', 'JPEG, PNG or WebP files')
    .parse();
  const o = program.opts<{
    model: string;
    conf: number;
    iou: number;
    maxDet: number;
    names?: string;
    provider: string;
    describe?: boolean;
  }>();
  if (!EXECUTION_PROVIDERS.includes(o.provider as ExecutionProviderName)) {
    program.error(`--provider must be one of ${EXECUTION_PROVIDERS.join(', ')}`);
  }
  const names = o.names ? parseNamesFile(await readFile(o.names, 'utf8')) : undefined;
  const model = await YoloModel.load({
    ...modelOptionsFrom(defaults, { modelPath: o.model, names, logger: silentLogger }),
    confThreshold: o.conf,
    lowThreshold: o.conf,
    iouThreshold: o.iou,
    maxDetections: o.maxDet,
    executionProvider: o.provider as ExecutionProviderName,
    // A few images: fitting the host would take longer than running them.
    fit: undefined,
  });
  if (o.describe) process.stderr.write(`${JSON.stringify(model.description)}\n`);
  let failed = 0;
  for (const file of program.args) {
    let line: string;
    try {
      const [outcome] = await model.detect([await readFile(file)]);
      if (!outcome.ok) throw outcome.error;
      line = JSON.stringify(outcome.value.classifications ?? outcome.value.detections);
    } catch (err) {
      failed++;
      const wire = toWireError(err);
      line = JSON.stringify({
        error: wire.code === 'E_INTERNAL' ? { code: 'E_IMAGE_DECODE', message: String((err as Error).message) } : wire,
      });
    }
    process.stdout.write(`${line}\n`);
  }
  await model.dispose();
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`detect: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
    process.exit(2);
  },
);
