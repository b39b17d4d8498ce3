import { describe, expect, it } from 'vitest';
import { letterboxGeometry, pyRound, unletterboxBoxes } from '../src';

describe('pyRound', () => {
  it('rounds halves to even like Python 3', () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, 2.4999, 2.5001].map((x) => pyRound(x) + 0)).toEqual([0, 2, 2, 4, 0, 2, 3]);
  });
});

describe('letterboxGeometry', () => {
  it('fits a landscape frame and centres vertical padding', () => {
    expect(letterboxGeometry(1280, 720, 640, 640)).toEqual({
      origWidth: 1280,
      origHeight: 720,
      inputWidth: 640,
      inputHeight: 640,
      ratio: 0.5,
      resizedWidth: 640,
      resizedHeight: 360,
      padLeft: 0,
      padTop: 140,
      padRight: 0,
      padBottom: 140,
    });
  });

  it('fits a portrait frame', () => {
    const g = letterboxGeometry(810, 1080, 640, 640);
    expect([g.resizedWidth, g.resizedHeight, g.padLeft, g.padRight, g.padTop]).toEqual([480, 640, 80, 80, 0]);
  });

  it('puts the odd padding pixel after the content, as Ultralytics does (round(dh ± 0.1))', () => {
    const g = letterboxGeometry(640, 481, 640, 640);
    expect([g.ratio, g.resizedHeight, g.padTop, g.padBottom]).toEqual([1, 481, 79, 80]);
  });

  it('handles extreme aspect ratios and never rounds content to zero pixels', () => {
    const g = letterboxGeometry(37, 1000, 640, 640);
    expect([g.ratio, g.resizedWidth, g.padLeft, g.padRight]).toEqual([0.64, 24, 308, 308]);
    expect(letterboxGeometry(1, 4000, 640, 640).resizedWidth).toBe(1);
  });

  it('upscales small images and letterboxes into rectangular inputs', () => {
    const g = letterboxGeometry(320, 240, 640, 384);
    expect([g.ratio, g.resizedWidth, g.resizedHeight, g.padLeft, g.padTop]).toEqual([1.6, 512, 384, 64, 0]);
  });
});

describe('unletterboxBoxes', () => {
  it('maps model-input boxes back to original pixels and clips them', () => {
    const g = letterboxGeometry(1280, 720, 640, 640);
    const boxes = Float32Array.from([320, 256, 352, 288, -10, 100, 700, 600]);
    unletterboxBoxes(boxes, 2, g);
    expect(Array.from(boxes)).toEqual([640, 232, 704, 296, 0, 0, 1280, 720]);
  });
});
