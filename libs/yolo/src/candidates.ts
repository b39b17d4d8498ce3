/**
 * Decoded boxes above the confidence threshold, in struct-of-arrays form so decoding and NMS run
 * over typed arrays without allocating an object per candidate. Boxes are x1, y1, x2, y2.
 */
export class Candidates {
  count = 0;
  boxes = new Float32Array(0);
  scores = new Float32Array(0);
  classes = new Int32Array(0);

  /** Empties the set and makes room for `capacity` boxes, reusing the arrays when they are big enough. */
  reset(capacity: number): void {
    this.count = 0;
    if (this.scores.length < capacity) {
      this.boxes = new Float32Array(capacity * 4);
      this.scores = new Float32Array(capacity);
      this.classes = new Int32Array(capacity);
    }
  }

  push(x1: number, y1: number, x2: number, y2: number, score: number, cls: number): void {
    const i = this.count++;
    const o = i * 4;
    this.boxes[o] = x1;
    this.boxes[o + 1] = y1;
    this.boxes[o + 2] = x2;
    this.boxes[o + 3] = y2;
    this.scores[i] = score;
    this.classes[i] = cls;
  }
}
