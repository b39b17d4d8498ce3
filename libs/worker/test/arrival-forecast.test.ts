import { describe, expect, it } from 'vitest';
import { ArrivalForecast } from '../src/arrival-forecast';

describe('ArrivalForecast', () => {
  it("learns each stream's interval and says when the earliest is next due", () => {
    const f = new ArrivalForecast();
    expect(f.next(0)).toBeUndefined();
    for (let t = 0; t <= 1000; t += 250) f.arrived('a', t); // every 250 ms, last at 1000
    for (let t = 100; t <= 1100; t += 500) f.arrived('b', t); // every 500 ms, last at 1100
    // a is due at 1250 (± 15 ms for jitter: 10 % of the interval, at most 15 ms), b at 1600.
    expect(f.next(1120)).toEqual({ from: 1235, to: 1265 });
    // A frame of a that is a little late keeps its window; one later than that moves to its next slot.
    expect(f.next(1260)).toEqual({ from: 1235, to: 1265 });
    expect(f.next(1300)).toEqual({ from: 1485, to: 1515 });
  });

  it('forgets a stream that stopped, and ignores pauses longer than a frame rate', () => {
    const f = new ArrivalForecast();
    for (let t = 0; t <= 400; t += 100) f.arrived('cam', t);
    expect(f.next(450)).toBeDefined();
    expect(f.next(800)).toBeUndefined(); // missed three intervals
    const g = new ArrivalForecast();
    g.arrived('x', 0);
    g.arrived('x', 60_000);
    expect(g.next(60_010)).toBeUndefined();
  });

  it('keeps at most maxStreams streams', () => {
    const f = new ArrivalForecast(2);
    for (const s of ['a', 'b', 'c']) {
      f.arrived(s, 0);
      f.arrived(s, 100);
    }
    expect(f.next(150)?.from).toBeCloseTo(190);
    f.arrived('a', 200); // 'a' was forgotten: it starts over without an interval
    expect(f.next(220)?.from).toBeCloseTo(290);
  });
});
