import { describe, expect, it } from 'vitest';
import { completeNames, parseNamesLiteral, parsePyLiteral, parseUltralyticsMetadata } from '../src';

describe('parseUltralyticsMetadata', () => {
  it('reads the props an Ultralytics export writes', () => {
    const meta = parseUltralyticsMetadata({
      description: 'Ultralytics YOLOv8n model trained on coco.yaml',
      stride: '32',
      task: 'detect',
      batch: '1',
      imgsz: '[640, 640]',
      names: "{0: 'person', 1: 'bicycle', 2: 'traffic light', 3: \"dog's bowl\", 4: 'a\\'b'}",
      args: "{'batch': 1, 'half': False, 'dynamic': True, 'nms': False}",
    });
    expect(meta.names).toEqual(['person', 'bicycle', 'traffic light', "dog's bowl", "a'b"]);
    expect(meta.imgsz).toEqual([640, 640]);
    expect(meta.stride).toBe(32);
    expect(meta.batch).toBe(1);
    expect(meta.task).toBe('detect');
    expect(meta.raw['args']).toContain('dynamic');
  });

  it('accepts a single imgsz and rectangular imgsz', () => {
    expect(parseUltralyticsMetadata({ imgsz: '320' }).imgsz).toEqual([320, 320]);
    expect(parseUltralyticsMetadata({ imgsz: '[384, 640]' }).imgsz).toEqual([384, 640]);
  });

  it('rejects malformed values with a message naming the key', () => {
    expect(() => parseUltralyticsMetadata({ imgsz: "'big'" })).toThrow(/imgsz/);
    expect(() => parseUltralyticsMetadata({ stride: 'x' })).toThrow(/stride/);
    expect(() => parseUltralyticsMetadata({ names: '{0: person}' })).toThrow(/parse/);
  });
});

describe('names', () => {
  it('fills gaps and missing names with class_<i>', () => {
    expect(parseNamesLiteral("{0: 'a', 2: 'c'}")).toEqual(['a', 'class_1', 'c']);
    expect(completeNames(['a'], 3)).toEqual(['a', 'class_1', 'class_2']);
    expect(completeNames(undefined, 2)).toEqual(['class_0', 'class_1']);
  });

  it('accepts lists and JSON', () => {
    expect(parseNamesLiteral("['x', 'y']")).toEqual(['x', 'y']);
    expect(parseNamesLiteral('{"0": "x", "1": "y"}')).toEqual(['x', 'y']);
  });

  it('parses nested Python literals', () => {
    expect(parsePyLiteral("{'a': [1, (2, 3)], 'b': None, 'c': True, 'd': -1.5e2}")).toEqual({
      a: [1, [2, 3]],
      b: null,
      c: true,
      d: -150,
    });
    expect(() => parsePyLiteral('[1, 2')).toThrow();
    expect(() => parsePyLiteral("'abc")).toThrow(/unterminated/);
  });
});

describe('parseNamesFile', () => {
  it('reads one name per line, or a list / dict literal', async () => {
    const { parseNamesFile } = await import('../src');
    expect(parseNamesFile('person\r\nbicycle\n\ncar\n')).toEqual(['person', 'bicycle', 'car']);
    expect(parseNamesFile('["a", "b"]')).toEqual(['a', 'b']);
    expect(parseNamesFile("{0: 'a', 1: 'b'}\n")).toEqual(['a', 'b']);
  });
});
