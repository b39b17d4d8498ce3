/**
 * Node flags of every process that runs inference: the stand-alone worker and the embedded server
 * (`npm start`, `npm run start:worker`, the worker images, the test and bench harness). V8 flags
 * cannot be set safely once the process runs, so they live here and in the launchers, which a test
 * keeps in step.
 *
 * `--single-threaded-gc`: V8's parallel collections wait for helper threads, and where inference
 * keeps every core busy (a CPU worker) those threads wait for a core too, stalling the loop that
 * routes frames. The heap of these processes is small (pixels never stay on it), so collecting on
 * the main thread alone costs little; docs/benchmarks.md has the bench figures.
 */
export const INFERENCE_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];
