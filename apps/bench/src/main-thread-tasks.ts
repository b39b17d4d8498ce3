import type { Browser, Page } from 'playwright-core';

/** Chromium's name for one task a thread's scheduler ran (category `toplevel`). */
const TASK = 'ThreadControllerImpl::RunTask';
const MARK = 'bench:main-thread';

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  pid: number;
  tid: number;
  /** Microseconds. */
  ts: number;
  dur?: number;
  args?: { data?: { message?: string } };
}

/**
 * Every task a page's main thread ran while traced, not only those over 50 ms that the Long Tasks
 * API reports: a Chromium trace (`toplevel` tasks), the page's renderer main thread found by a
 * `console.timeStamp` the page itself records.
 */
export class MainThreadTasks {
  private constructor(
    private readonly browser: Browser,
    private readonly page: Page,
  ) {}

  static async start(browser: Browser, page: Page): Promise<MainThreadTasks> {
    await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline'] });
    return new MainThreadTasks(browser, page);
  }

  /** The traced tasks' durations (ms), outermost tasks only (a nested run loop's are inside them). */
  async stop(): Promise<number[]> {
    await this.page.evaluate(`console.timeStamp(${JSON.stringify(MARK)})`);
    const trace = JSON.parse((await this.browser.stopTracing()).toString()) as
      { traceEvents: TraceEvent[] } | TraceEvent[];
    const events = Array.isArray(trace) ? trace : trace.traceEvents;
    const mark = events.find((e) => e.name === 'TimeStamp' && e.args?.data?.message === MARK);
    if (!mark) throw new Error("the trace has no mark from the page: its main thread can't be told");
    const tasks = events
      .filter((e) => e.pid === mark.pid && e.tid === mark.tid && e.name === TASK && e.ph === 'X')
      .sort((a, b) => a.ts - b.ts);
    const durations: number[] = [];
    let outerEnd = -Infinity;
    for (const task of tasks) {
      const end = task.ts + (task.dur ?? 0);
      if (end <= outerEnd) continue;
      outerEnd = end;
      durations.push((task.dur ?? 0) / 1000);
    }
    return durations;
  }
}
