import { describe, expect, it } from 'vitest';
import { EventsMetrics } from '@vision/metrics';
import { EVENT_KINDS, RuleError, validateRule, type Box, type SiteEvent } from '../src';
import { committedView, ruleType, RULE_TYPES, type RuleTypeName } from '../src/rule-types';
import { ctx, kinds, play, rule } from './rule-play';
import type { GtObject } from './synthetic';

/** A 50x120 box (a person; `cls` 1 a 120x80 car) whose bottom centre follows `[s, x, y]` waypoints. */
function path(id: number, cls: number, waypoints: [number, number, number][]): GtObject {
  const [w, h] = cls === 1 ? [120, 80] : [50, 120];
  return {
    id,
    cls,
    box(s) {
      const next = waypoints.findIndex(([t]) => t >= s);
      if (next < 0 || (next === 0 && s < waypoints[0][0])) return undefined;
      const [t1, x1, y1] = waypoints[next];
      const [t0, x0, y0] = waypoints[Math.max(0, next - 1)];
      const f = t1 === t0 ? 1 : (s - t0) / (t1 - t0);
      const x = x0 + (x1 - x0) * f;
      const y = y0 + (y1 - y0) * f;
      return [x - w / 2, y - h, x + w / 2, y] as Box;
    },
  };
}

// x 320..960, y 288..684 of the 1280x720 frame.
const LOBBY = [
  [0.25, 0.4],
  [0.75, 0.4],
  [0.75, 0.95],
  [0.25, 0.95],
];
const lobby = (extra: object = {}) =>
  rule({ id: 'lobby', type: 'crowd', polygon: LOBBY, classes: ['person'], threshold: 2, ...extra });

const totals = (events: SiteEvent[], kind: string) =>
  kinds(events, kind).map((e) => (e.counts as { total: number }).total);

// Three people on lanes of their own, and a car that stands in the lobby the whole time.
const people = [
  path(1, 0, [
    [0, 200, 400],
    [1.5, 420, 400],
    [10, 420, 400],
    [11.5, 200, 400],
  ]),
  path(2, 0, [
    [3, 200, 520],
    [4.5, 420, 520],
    [6, 420, 520],
    [7.5, 200, 520],
  ]),
  path(4, 1, [
    [1, 1200, 470],
    [3, 760, 470],
    [15, 760, 470],
  ]),
  path(3, 0, [
    [8, 1100, 640],
    [9.5, 880, 640],
    [15, 880, 640],
  ]),
];

describe('crowd rules (the example of a rule type added by one file and one registration line)', () => {
  it('starts when the people inside reach the threshold and ends when they drop below it', () => {
    const events = play([lobby()], people, { seconds: 15 });
    expect(events.filter((e) => e.kind !== 'count').map((e) => e.kind)).toEqual([
      'crowd.start',
      'crowd.end',
      'crowd.start',
      'crowd.end',
    ]);
    expect(totals(events, 'crowd.start')).toEqual([2, 2]);
    expect(totals(events, 'crowd.end')).toEqual([1, 1]);
    // Occupancy by the rule's classes only: the car never counts.
    expect(totals(events, 'count')).toEqual([1, 2, 1, 2, 1, 0]);
    expect(kinds(events, 'count').every((e) => !('car' in (e.counts as { byClass: object }).byClass))).toBe(true);
    const [start] = kinds(events, 'crowd.start');
    expect(start).toMatchObject({ rule: 'lobby', ruleType: 'crowd', counts: { total: 2, byClass: { person: 2 } } });
    expect(start.track).toBeUndefined();
    // Counting the car too, three are inside at once: still one start per crossing of the threshold.
    const all = play([lobby({ classes: undefined, threshold: 3 })], people, { seconds: 15 });
    expect(totals(all, 'crowd.start')).toEqual([3, 3]);
  });

  it('two people standing on the edge with jittering boxes start one crowd, never flickering', () => {
    const jitter = (id: number, x: number): GtObject => ({
      id,
      cls: 0,
      box: (s) => [x, 168 + 8 * Math.sin(s * 7 + id), x + 50, 288 + 8 * Math.sin(s * 7 + id)] as Box,
    });
    const events = play([lobby()], [jitter(1, 400), jitter(2, 700)], { seconds: 10 });
    expect(totals(events, 'crowd.start')).toEqual([2]);
    // The only end is the tracks ending inside when the camera goes quiet.
    expect(totals(events, 'crowd.end')).toEqual([0]);
    expect(events.at(-2)?.kind).toBe('crowd.end');
  });

  it('is validated like every rule, naming the field', () => {
    const refuse = (raw: object) => {
      try {
        validateRule({ id: 'c', type: 'crowd', polygon: LOBBY, threshold: 2, ...raw }, 'cam', ctx, 'r', 'file');
      } catch (err) {
        expect(err).toBeInstanceOf(RuleError);
        return (err as RuleError).toJSON();
      }
      throw new Error('accepted');
    };
    expect(refuse({ threshold: undefined })).toMatchObject({ code: 'E_BAD_RULE', field: 'r.threshold' });
    expect(refuse({ threshold: 0 })).toMatchObject({ code: 'E_BAD_RULE', field: 'r.threshold' });
    expect(refuse({ polygon: [...LOBBY.slice(0, 3), [1.5, 0.5]] })).toMatchObject({ field: 'r.polygon[3]' });
    expect(refuse({ polygon: [LOBBY[0], LOBBY[2], LOBBY[1], LOBBY[3]] })).toMatchObject({
      field: 'r.polygon',
      message: expect.stringMatching(/intersects itself/),
    });
    expect(refuse({ classes: ['unicorn'] })).toMatchObject({ code: 'E_UNKNOWN_CLASS', field: 'r.classes[0]' });
    expect(refuse({ dwellS: 5 })).toMatchObject({ code: 'E_BAD_RULE', field: 'r', message: /dwellS/ });
  });
});

describe('the rule-type registry', () => {
  it('refuses a type nothing is registered under, naming the field and the registered types', () => {
    for (const type of ['loiter', undefined, 7]) {
      let refused: unknown;
      try {
        validateRule({ id: 'x', type, polygon: LOBBY }, 'cam', ctx, 'cameras.cam.rules[2]', 'file');
      } catch (err) {
        refused = (err as RuleError).toJSON();
      }
      expect(refused).toMatchObject({
        code: 'E_BAD_RULE',
        field: 'cameras.cam.rules[2].type',
        message: expect.stringMatching(/one of zone, line, crowd$/),
      });
    }
  });

  it("lists every registered type's event kinds, then count; looking up an unregistered type does not compile", () => {
    expect(RULE_TYPES.map((definition) => definition.type)).toEqual(['zone', 'line', 'crowd']);
    expect([...EVENT_KINDS]).toEqual([
      'zone.enter',
      'zone.exit',
      'zone.dwell',
      'line.cross',
      'crowd.start',
      'crowd.end',
      'count',
    ]);
    expect(ruleType('crowd').kinds).toEqual(['crowd.start', 'crowd.end']);
    // @ts-expect-error: 'loiter' is not a registered rule type (npm run typecheck fails if it becomes one)
    expect(ruleType('loiter')).toBeUndefined();
  });

  it("sets a crowd's occupancy metric from its count events, as a zone's; a line has none", async () => {
    const metrics = new EventsMetrics();
    const occupancy = async (id: string) =>
      (await metrics.text()).match(
        new RegExp(`^vision_events_zone_occupancy\\{camera="cam",rule="${id}"\\} (\\d+)$`, 'm'),
      )?.[1];
    const events = play([lobby()], people, { seconds: 15 });
    // Up to the count event of the crowd's start (which comes just before it, in the same frame).
    const crowded = events.findIndex((e) => e.kind === 'crowd.start') + 1;
    expect(events[crowded].kind).toBe('count');
    for (const e of events.slice(0, crowded + 1)) metrics.committed(committedView(e), e.ts);
    expect(await occupancy('lobby')).toBe('2');
    for (const e of events.slice(crowded + 1)) metrics.committed(committedView(e), e.ts);
    expect(await occupancy('lobby')).toBe('0');
    const gate = rule({ id: 'gate', type: 'line', from: [0.25, 0.9], to: [0.25, 0.1] });
    const crossing = play([gate], people, { seconds: 15 });
    expect(kinds(crossing, 'count').length).toBeGreaterThan(0);
    for (const e of crossing) metrics.committed(committedView(e), e.ts);
    expect(await occupancy('gate')).toBeUndefined();
  });

  it('gives the demo page drawing hints for every kind, labelled with fields of its counts', () => {
    const samples: Record<RuleTypeName, object> = {
      zone: { type: 'zone', polygon: LOBBY },
      line: { type: 'line', from: [0.25, 0.9], to: [0.25, 0.1] },
      crowd: { type: 'crowd', polygon: LOBBY, threshold: 2 },
    };
    for (const definition of RULE_TYPES) {
      const hints = ruleType(definition.type).draw(rule({ id: 'r', ...samples[definition.type] }));
      expect(hints.points.length, definition.type).toBeGreaterThanOrEqual(2);
      const fields = [...hints.label.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(fields.length, definition.type).toBeGreaterThan(0);
      for (const field of fields)
        expect(definition.emptyCounts(), `${definition.type} {${field}}`).toHaveProperty(field);
    }
    expect(ruleType('crowd').draw(lobby())).toMatchObject({ points: LOBBY, closed: true, label: '{total}/2' });
  });
});
