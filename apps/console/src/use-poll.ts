import { useEffect } from 'preact/hooks';

/** Runs `tick` now and then `everyMs` after each run finishes (never two at once), until unmounted. */
export function usePoll(tick: () => Promise<void>, everyMs: number, deps: unknown[]): void {
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      await tick().catch(() => undefined);
      if (!stopped) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}
