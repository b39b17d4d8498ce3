import { describe, expect, it } from 'vitest';
import { detectOutputLayout } from '../src';

describe('detectOutputLayout', () => {
  it.each([
    [[1, 84, 8400], undefined, 'v8', 80],
    [['batch', 84, 'anchors'], undefined, 'v8', 80],
    [[1, 25200, 85], undefined, 'v5', 80],
    [['batch', 'anchors', 85], undefined, 'v5', 80],
    [[1, 300, 6], undefined, 'end2end', undefined],
    [['batch', 300, 6], 80, 'end2end', undefined],
    [[1, 6, 8400], 2, 'v8', 2],
    [[1, 8400, 6], 1, 'v5', 1],
  ] as const)('%j (nc=%s) is %s', (shape, nc, kind, classes) => {
    expect(detectOutputLayout([...shape], nc)).toEqual({ kind, classCount: classes });
  });

  it.each([[[1, 84, 8400, 1]], [[8400, 84]], [[1, 4, 4]], [['b', 'x', 'y']]])(
    'refuses %j with an error naming the shape',
    (shape) => {
      expect(() => detectOutputLayout(shape)).toThrow(expect.objectContaining({ code: 'E_MODEL_LAYOUT' }));
      expect(() => detectOutputLayout(shape)).toThrow(`[${shape.join(', ')}]`);
    },
  );

  it('refuses a shape that contradicts the metadata class count', () => {
    expect(() => detectOutputLayout([1, 84, 8400], 3)).toThrow(/3 class names/);
  });
});
