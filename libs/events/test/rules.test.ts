import { describe, expect, it } from 'vitest';
import type { DetRow } from '@vision/results-stream';
import { RuleError, validateRule, type Box } from '../src';
import { ctx, kinds, play, rule } from './rule-play';
import { walker, type GtObject } from './synthetic';

describe('zones', () => {
  // Bottom half, left side of the frame.
  const bay = () =>
    rule({
      id: 'bay',
      type: 'zone',
      polygon: [
        [0.1, 0.5],
        [0.5, 0.5],
        [0.5, 0.95],
        [0.1, 0.95],
      ],
      classes: ['person'],
      dwellS: 5,
    });

  it('a person walking through makes one enter and one exit; a car is filtered out; counts follow', () => {
    const events = play(
      [bay()],
      [walker(1, 0, 50, 120, [0, 600], [1280, 600], 0, 8), walker(2, 1, 120, 80, [0, 620], [1280, 620], 0, 8)],
      { seconds: 9 },
    );
    expect(kinds(events, 'zone.enter')).toHaveLength(1);
    expect(kinds(events, 'zone.exit')).toHaveLength(1);
    expect(kinds(events, 'zone.dwell')).toHaveLength(0); // inside for 512 px at 160 px/s: 3.2 s, under dwellS
    const [enter] = kinds(events, 'zone.enter');
    const [exit] = kinds(events, 'zone.exit');
    expect(enter).toMatchObject({
      site: 'site',
      camera: 'cam',
      rule: 'bay',
      ruleType: 'zone',
      class: 'person',
      id: expect.stringMatching(/^ev_/),
    });
    expect(exit).toMatchObject({ track: enter.track, reason: 'left', enteredTs: expect.any(Number) });
    expect(exit.dwellMs).toBeGreaterThan(2500);
    expect(kinds(events, 'count').map((e) => (e.counts as { total: number }).total)).toEqual([1, 0]);
    // Every event is in capture order, and ids are unique.
    expect(events.map((e) => e.ts)).toEqual([...events.map((e) => e.ts)].sort((a, b) => a - b));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it('a person standing on the edge with a jittering box enters once and never flickers out', () => {
    // Bottom-centre oscillates 8 px either side of the zone's top edge (y = 360): hysteresis is 12 px.
    const jitter: GtObject = {
      id: 1,
      cls: 0,
      box: (s) => [300, 240 + 8 * Math.sin(s * 7), 350, 360 + 8 * Math.sin(s * 7)] as Box,
    };
    const events = play([bay()], [jitter], { seconds: 10 });
    expect(kinds(events, 'zone.enter')).toHaveLength(1);
    expect(kinds(events, 'zone.dwell')).toHaveLength(1);
    // The only exit is the track ending inside when the camera goes quiet.
    expect(kinds(events, 'zone.exit').map((e) => e.reason)).toEqual(['lost']);
  });

  it('uses the bottom-centre anchor by default, and the centre when asked', () => {
    // A tall box whose feet are inside the zone and whose centre is above it.
    const tall = walker(1, 0, 50, 300, [300, 500], [300, 500], 0, 3);
    expect(kinds(play([bay()], [tall], { seconds: 3 }), 'zone.enter')).toHaveLength(1);
    const centred = rule({
      id: 'bay',
      type: 'zone',
      polygon: [
        [0.1, 0.5],
        [0.5, 0.5],
        [0.5, 0.95],
        [0.1, 0.95],
      ],
      anchor: 'center',
    });
    expect(kinds(play([centred], [tall], { seconds: 3 }), 'zone.enter')).toHaveLength(0);
  });
});

describe('lines', () => {
  // A vertical gate at x = 640, drawn bottom to top: standing at `from` facing `to`, walking from
  // your left to your right (left to right on the image) is `in`.
  const gate = (extra: object = {}) => rule({ id: 'gate', type: 'line', from: [0.5, 0.95], to: [0.5, 0.1], ...extra });

  it('counts exact crossings by direction', () => {
    const objects = [
      walker(1, 0, 50, 120, [100, 400], [1200, 400], 0, 6),
      walker(2, 0, 50, 120, [100, 550], [1200, 550], 1, 7),
      walker(3, 1, 120, 80, [100, 650], [1200, 650], 2, 8),
      walker(4, 0, 50, 120, [1200, 300], [100, 300], 0, 6),
    ];
    const events = play([gate()], objects, { seconds: 9 });
    const cross = kinds(events, 'line.cross');
    expect(cross.map((e) => e.direction).sort()).toEqual(['in', 'in', 'in', 'out']);
    expect(cross.filter((e) => e.class === 'car')).toHaveLength(1);
    expect(kinds(events, 'count').at(-1)!.counts).toEqual({
      in: 3,
      out: 1,
      byClass: { person: { in: 2, out: 1 }, car: { in: 1, out: 0 } },
    });
    // Drawn the other way round, the same walks swap directions.
    const reversed = play([rule({ id: 'gate', type: 'line', from: [0.5, 0.1], to: [0.5, 0.95] })], objects, {
      seconds: 9,
    });
    expect(
      kinds(reversed, 'line.cross')
        .map((e) => e.direction)
        .sort(),
    ).toEqual(['in', 'out', 'out', 'out']);
    // Only the listed directions make events; both are counted.
    const inOnly = play([gate({ directions: ['in'] })], objects, { seconds: 9 });
    expect(kinds(inOnly, 'line.cross')).toHaveLength(3);
    expect(kinds(inOnly, 'count').at(-1)!.counts).toMatchObject({ in: 3, out: 1 });
  });

  it('an oscillating box on the line adds 0, small or large swings alike', () => {
    const small: GtObject = {
      id: 1,
      cls: 0,
      box: (s) => [615 + 6 * Math.sin(s * 9), 300, 665 + 6 * Math.sin(s * 9), 420] as Box,
    };
    expect(kinds(play([gate()], [small], { seconds: 10 }), 'line.cross')).toHaveLength(0);
    // Swings well past the band, alternating every frame: never twice in a row on the other side.
    const large: GtObject = {
      id: 1,
      cls: 0,
      box: (s) => {
        const dx = Math.round(s * 10) % 2 ? 30 : -30;
        return [615 + dx, 300, 665 + dx, 420] as Box;
      },
    };
    expect(kinds(play([gate()], [large], { seconds: 10 }), 'line.cross')).toHaveLength(0);
  });

  it('an object entering from the frame edge and crossing counts once; at 2 fps too', () => {
    // A gate 40 px from the left edge; the person walks in from outside the frame.
    const edge = rule({ id: 'edge', type: 'line', from: [40, 720], to: [40, 0], units: 'px' });
    for (const fps of [10, 2]) {
      const events = play([edge], [walker(1, 0, 50, 120, [-40, 500], [700, 500], 0, 6)], { seconds: 7, fps });
      expect(
        kinds(events, 'line.cross').map((e) => e.direction),
        `${fps} fps`,
      ).toEqual(['in']);
    }
  });

  it('a track counts each direction once; walking round the end counts nothing', () => {
    const back: GtObject = {
      id: 1,
      cls: 0,
      box: (s) => {
        const x = s < 4 ? 400 + 100 * s : s < 8 ? 800 - 100 * (s - 4) : 400 + 100 * (s - 8);
        return [x - 25, 300, x + 25, 420] as Box;
      },
    };
    const events = play([gate()], [back], { seconds: 12 });
    expect(kinds(events, 'line.cross').map((e) => e.direction)).toEqual(['in', 'out']);
    const repeat = play([gate({ oncePerTrack: false })], [back], { seconds: 12 });
    expect(kinds(repeat, 'line.cross').map((e) => e.direction)).toEqual(['in', 'out', 'in']);
    // Below the gate's lower end (y 684): from x 400 to 900 under it.
    const round = walker(1, 0, 50, 60, [400, 715], [900, 715], 0, 5);
    expect(kinds(play([gate()], [round], { seconds: 6 }), 'line.cross')).toHaveLength(0);
  });

  it('never counts untracked boxes: low-score boxes, or a box seen in one frame', () => {
    const low = (i: number): DetRow[] => [[100 + i * 40, 400, 150 + i * 40, 520, 0.2, 0]];
    expect(kinds(play([gate()], [], { seconds: 3, extra: low }), 'line.cross')).toHaveLength(0);
    const flash = (i: number): DetRow[] =>
      i === 5 ? [[700, 400, 750, 520, 0.9, 0]] : i === 4 ? [[500, 400, 550, 520, 0.9, 0]] : [];
    expect(kinds(play([gate()], [], { seconds: 3, extra: flash }), 'line.cross')).toHaveLength(0);
  });
});

describe('rule validation names the field', () => {
  const refuse = (raw: unknown, camera = 'cam') => {
    try {
      validateRule(raw, camera, ctx, 'cameras.cam.rules[0]', 'file');
    } catch (err) {
      expect(err).toBeInstanceOf(RuleError);
      return (err as RuleError).toJSON();
    }
    throw new Error('accepted');
  };

  it.each([
    [
      'a self-intersecting polygon',
      {
        id: 'z',
        type: 'zone',
        polygon: [
          [0, 0],
          [1, 1],
          [1, 0],
          [0, 1],
        ],
      },
      'E_BAD_RULE',
      'cameras.cam.rules[0].polygon',
      /intersects itself/,
    ],
    [
      'a zero-length line',
      { id: 'l', type: 'line', from: [0.2, 0.2], to: [0.2, 0.2] },
      'E_BAD_RULE',
      'cameras.cam.rules[0].to',
      /zero length/,
    ],
    [
      'an unknown class',
      { id: 'l', type: 'line', from: [0, 0], to: [1, 1], classes: ['person', 'unicorn'] },
      'E_UNKNOWN_CLASS',
      'cameras.cam.rules[0].classes[1]',
      /unicorn/,
    ],
    [
      'normalised coordinates above 1',
      {
        id: 'z',
        type: 'zone',
        polygon: [
          [0, 0],
          [2, 0],
          [0, 1],
        ],
      },
      'E_BAD_RULE',
      'cameras.cam.rules[0].polygon[1]',
      /\[0, 1\]/,
    ],
    [
      'a polygon of two points',
      {
        id: 'z',
        type: 'zone',
        polygon: [
          [0, 0],
          [1, 0],
        ],
      },
      'E_BAD_RULE',
      'cameras.cam.rules[0].polygon',
      /at least 3/,
    ],
    [
      'an unknown field',
      {
        id: 'z',
        type: 'zone',
        polygon: [
          [0, 0],
          [1, 0],
          [0, 1],
        ],
        colour: 'red',
      },
      'E_BAD_RULE',
      'cameras.cam.rules[0]',
      /colour/,
    ],
    [
      'a bad id',
      {
        id: 'a b',
        type: 'zone',
        polygon: [
          [0, 0],
          [1, 0],
          [0, 1],
        ],
      },
      'E_BAD_RULE',
      'cameras.cam.rules[0].id',
      /letters/,
    ],
  ])('refuses %s', (_label, raw, code, field, message) => {
    const e = refuse(raw);
    expect(e.code).toBe(code);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('refuses an unknown camera', () => {
    expect(
      refuse(
        {
          id: 'z',
          type: 'zone',
          polygon: [
            [0, 0],
            [1, 0],
            [0, 1],
          ],
        },
        'nowhere',
      ),
    ).toMatchObject({ code: 'E_UNKNOWN_CAMERA', field: 'cameras.cam' });
  });

  it('fills defaults from the configuration and keys the definition', () => {
    const r = rule({ id: 'g', type: 'line', from: [0, 0], to: [1, 1] });
    expect(r).toMatchObject({
      anchor: 'bottom-center',
      inertia: 2,
      hysteresis: 0.1,
      directions: ['in', 'out'],
      oncePerTrack: true,
      units: 'norm',
    });
    expect(rule({ id: 'g', type: 'line', from: [0, 0], to: [1, 1] }).key).toBe(r.key);
    expect(rule({ id: 'g', type: 'line', from: [0, 0], to: [1, 0.9] }).key).not.toBe(r.key);
  });
});
