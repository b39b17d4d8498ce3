/**
 * Node flags every stand-alone worker starts with (`npm run start:worker`, the worker images, the
 * test and bench harness). V8 flags cannot be set safely once the process runs, so they live here
 * and in the launchers, which a test keeps in step.
 *
 * `--single-threaded-gc`: V8's parallel collections wait for helper threads, and where inference
 * keeps every core busy (a CPU worker) those threads wait for a core too, so a 2 ms scavenge became
 * a 10–25 ms stall of the loop that routes frames. The worker's heap is small (pixels never stay
 * on it), so collecting on the main thread alone costs little; see README, "event-loop delay".
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];
