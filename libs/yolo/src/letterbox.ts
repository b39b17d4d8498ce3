/**
 * Letterbox geometry, computed exactly as Ultralytics' `LetterBox` (auto=False, center=True) and
 * undone exactly as its `scale_boxes`, so boxes match what `yolo predict` reports for the same file.
 */
export interface LetterboxGeometry {
  /** Size of the decoded, EXIF-rotated source image. */
  origWidth: number;
  origHeight: number;
  /** Model input size. */
  inputWidth: number;
  inputHeight: number;
  /** Scale applied to the source: min(inputH / origH, inputW / origW). */
  ratio: number;
  /** Size of the resized content before padding. */
  resizedWidth: number;
  resizedHeight: number;
  /** Padding before the content (the rest goes after it). */
  padLeft: number;
  padTop: number;
  padRight: number;
  padBottom: number;
}

/** Python 3 `round()`: halves go to the even neighbour. Ultralytics' geometry depends on it. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function letterboxGeometry(
  origWidth: number,
  origHeight: number,
  inputWidth: number,
  inputHeight: number,
): LetterboxGeometry {
  const ratio = Math.min(inputHeight / origHeight, inputWidth / origWidth);
  // Clamp to one pixel: a 1×4000 strip would otherwise round to zero width, which no resizer accepts.
  const resizedWidth = Math.max(1, pyRound(origWidth * ratio));
  const resizedHeight = Math.max(1, pyRound(origHeight * ratio));
  const dw = (inputWidth - resizedWidth) / 2;
  const dh = (inputHeight - resizedHeight) / 2;
  const padTop = pyRound(dh - 0.1);
  const padBottom = inputHeight - resizedHeight - padTop;
  const padLeft = pyRound(dw - 0.1);
  const padRight = inputWidth - resizedWidth - padLeft;
  return {
    origWidth,
    origHeight,
    inputWidth,
    inputHeight,
    ratio,
    resizedWidth,
    resizedHeight,
    padLeft,
    padTop,
    padRight,
    padBottom,
  };
}

/**
 * Maps boxes (x1, y1, x2, y2 in model-input pixels, packed four per box) back to original pixels,
 * clipped to the image, in place. Uses the ideal ratio and padding like `scale_boxes` does.
 */
export function unletterboxBoxes(boxes: Float32Array | Float64Array, count: number, g: LetterboxGeometry): void {
  const padX = pyRound((g.inputWidth - g.origWidth * g.ratio) / 2 - 0.1);
  const padY = pyRound((g.inputHeight - g.origHeight * g.ratio) / 2 - 0.1);
  for (let i = 0; i < count; i++) {
    const o = i * 4;
    boxes[o] = clamp((boxes[o] - padX) / g.ratio, 0, g.origWidth);
    boxes[o + 1] = clamp((boxes[o + 1] - padY) / g.ratio, 0, g.origHeight);
    boxes[o + 2] = clamp((boxes[o + 2] - padX) / g.ratio, 0, g.origWidth);
    boxes[o + 3] = clamp((boxes[o + 3] - padY) / g.ratio, 0, g.origHeight);
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
