import { spawn, type ChildProcess } from 'node:child_process';

/**
 * GPU utilisation over one load level, sampled by `nvidia-smi` every 100 ms: the share of time a
 * kernel was running, which is what "keeps the accelerator busy" means (the worker's own busy
 * fraction only says an inference was in flight). Absent (NaN) where nvidia-smi is not there.
 */
export class GpuMeter {
  private readonly samples: number[] = [];
  private readonly proc: ChildProcess;

  constructor(deviceId = 0) {
    this.proc = spawn(
      'nvidia-smi',
      ['-i', String(deviceId), '--query-gpu=utilization.gpu', '--format=csv,noheader,nounits', '-lms', '100'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    this.proc.on('error', () => undefined); // no nvidia-smi (ENOENT arrives here, not as a throw): stop() gives NaN
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        const n = Number(line.trim());
        if (line.trim() && Number.isFinite(n)) this.samples.push(n);
      }
    });
  }

  /** Stops sampling; the mean utilisation as a fraction (0.82 = 82 %), NaN without samples. */
  stop(): number {
    this.proc.kill('SIGTERM');
    return this.samples.length ? this.samples.reduce((a, b) => a + b, 0) / this.samples.length / 100 : NaN;
  }
}
