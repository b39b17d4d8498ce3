import { loadEventsConfig } from '@vision/config';
import type { DetRow, ResultsEntry } from '@vision/results-stream';
import { CameraPipeline, validateRule, type Rule, type RuleContext, type SiteEvent } from '../src';
import { H, NAMES, W, type GtObject } from './synthetic';

export const cfg = loadEventsConfig({});
export const ctx: RuleContext = {
  defaults: cfg.ruleDefaults,
  cameraKnown: (c) => c === 'cam',
  classesOf: () => new Set(['person', 'car']),
};
export const rule = (raw: unknown) => validateRule(raw, 'cam', ctx, 'rule', 'api');

/** Plays `objects` (plus per-frame extra boxes) at `fps` through one camera pipeline; returns every event. */
export function play(
  rules: Rule[],
  objects: GtObject[],
  opts: { fps?: number; seconds: number; extra?: (i: number, s: number) => DetRow[] },
): SiteEvent[] {
  const fps = opts.fps ?? 10;
  const pipe = new CameraPipeline(
    'cam',
    { site: 'site', tracker: cfg.tracker, reorderMs: 0, maxPending: 100 },
    undefined,
    0,
  );
  const events: SiteEvent[] = [];
  for (let i = 0; i < opts.seconds * fps; i++) {
    const s = i / fps;
    const dets: DetRow[] = [];
    for (const o of objects) {
      const b = o.box(s);
      if (b) dets.push([...b, 0.9, o.cls] as DetRow);
    }
    dets.push(...(opts.extra?.(i, s) ?? []));
    const e: ResultsEntry = {
      camera: 'cam',
      frame: i + 1,
      ts: 1000 + Math.round((i * 1000) / fps),
      model: 'm',
      w: W,
      h: H,
      conf: 0.25,
      dets,
      names: NAMES,
    };
    pipe.offer(`1-${i}`, e, e.ts);
    events.push(...pipe.drain(e.ts, rules, false).events);
  }
  events.push(...pipe.expire(Infinity, rules));
  return events;
}

export const kinds = (events: SiteEvent[], kind: string) => events.filter((e) => e.kind === kind);
