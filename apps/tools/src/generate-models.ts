import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BENCH_MODEL_SIZES,
  benchModelName,
  buildColorCellDetector,
  buildColorClassifier,
  buildYoloV8n,
  FIXTURE_CLASSIFIERS,
  FIXTURE_MODELS,
  modelsDir,
} from '@vision/testing';

/**
 * `npm run models [-- --out DIR] [--only fixtures|bench]`: writes the fixture detectors and
 * classifiers and the YOLOv8n-topology benchmark models. Deterministic: the same bytes on every run and machine.
 */
function main(argv: string[]): void {
  const outIdx = argv.indexOf('--out');
  const out = outIdx >= 0 ? argv[outIdx + 1] : modelsDir();
  const onlyIdx = argv.indexOf('--only');
  const only = onlyIdx >= 0 ? argv[onlyIdx + 1] : undefined;
  mkdirSync(out, { recursive: true });
  if (only !== 'bench') {
    for (const [name, spec] of Object.entries(FIXTURE_MODELS)) {
      const bytes = buildColorCellDetector(spec);
      writeFileSync(join(out, `${name}.onnx`), bytes);
      console.log(
        `${name}.onnx  ${bytes.length} bytes  (${spec.layout}, batch ${spec.batch}, ${spec.height}×${spec.width})`,
      );
    }
    for (const [name, spec] of Object.entries(FIXTURE_CLASSIFIERS)) {
      const bytes = buildColorClassifier(spec);
      writeFileSync(join(out, `${name}.onnx`), bytes);
      console.log(`${name}.onnx  ${bytes.length} bytes  (classify, batch ${spec.batch}, ${spec.size}×${spec.size})`);
    }
  }
  if (only !== 'fixtures') {
    for (const imgsz of BENCH_MODEL_SIZES) {
      const m = buildYoloV8n({ imgsz });
      const file = `${benchModelName(imgsz)}.onnx`;
      writeFileSync(join(out, file), m.bytes);
      console.log(
        `${file}  ${(m.bytes.length / 1e6).toFixed(1)} MB  parameters ${m.parameters.toLocaleString('en-US')}  ` +
          `${(m.flops / 1e9).toFixed(2)} GFLOPs at ${imgsz}  (YOLOv8n: 3,151,904 parameters, 8.7 GFLOPs at 640)`,
      );
    }
  }
  console.log(`models written to ${out}`);
}

main(process.argv.slice(2));
