/**
 * Injected into every page of the bench (`addInitScript`) before the console's own script runs.
 * `window.__bench.longTasks`: `[startTime, duration]` of every Long Tasks API entry (main-thread
 * tasks over 50 ms), buffered from the page's start. `window.__bench.rows`: for each timeline row
 * (`#timeline tr`), keyed `kind|rule|ts|#track` as `rowKey` builds it, the wall-clock time
 * (`performance.timeOrigin + performance.now()`, ms) when it was first inserted into the DOM,
 * taken in a MutationObserver (a microtask after the render that inserted it, before paint).
 * Plain JavaScript as text: the bench's TypeScript has no DOM types.
 */
export const PROBE = `(() => {
  const bench = (window.__bench = { longTasks: [], rows: {} });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) bench.longTasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (err) {
    bench.longTaskError = String(err);
  }
  const seen = (tr) => {
    const key = [
      tr.getAttribute('data-kind'),
      tr.getAttribute('data-rule'),
      tr.getAttribute('data-ts'),
      tr.cells[3] ? tr.cells[3].textContent : '',
    ].join('|');
    if (!(key in bench.rows)) bench.rows[key] = performance.timeOrigin + performance.now();
  };
  new MutationObserver((records) => {
    for (const r of records)
      for (const n of r.addedNodes) {
        if (n.nodeType !== 1) continue;
        if (n.matches('#timeline tr')) seen(n);
        else n.querySelectorAll('#timeline tr').forEach(seen);
      }
  }).observe(document, { childList: true, subtree: true });
})();`;

/** The key the probe gives an event's timeline row (the row's cells show `#<track>` or nothing). */
export function rowKey(e: { kind: string; rule: string; ts: number; track?: number }): string {
  return [e.kind, e.rule, String(e.ts), e.track === undefined ? '' : `#${e.track}`].join('|');
}
