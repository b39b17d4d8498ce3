import { VisionError } from '@vision/wire';

const SOI = Buffer.from([0xff, 0xd8]);
/** The buffer a source starts with (a 720p JPEG fits); it grows for larger frames and shrinks back. */
const INITIAL_CAPACITY = 256 * 1024;

/**
 * Cuts a byte stream of concatenated JPEGs (ffmpeg's `-f mjpeg`, or the body of a
 * `multipart/x-mixed-replace` response with its part headers in between) into whole frames.
 *
 * A frame runs from SOI to the EOI that ends it: marker segments are skipped by their declared
 * length (so an EXIF thumbnail's own SOI/EOI inside APP1 cannot cut a frame short) and entropy-coded
 * data is scanned for the next real marker (stuffed `FF 00`, restart markers and fill bytes are
 * data). Bounded: a frame above `maxFrameBytes`, or that many bytes without one whole frame, is
 * `E_CAMERA_BAD_DATA`; memory never exceeds one frame plus one chunk.
 */
export class JpegCutter {
  private acc = Buffer.allocUnsafe(INITIAL_CAPACITY);
  private len = 0;
  /** Offset of the frame in progress (its SOI), or -1 while looking for one. */
  private start = -1;
  /** Next byte to examine. */
  private pos = 0;
  /** Inside entropy-coded data (after an SOS header). */
  private inScan = false;
  /** Bytes thrown away since the last whole frame. */
  private discarded = 0;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onFrame: (jpeg: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.append(chunk);
    while (this.step());
    this.compact();
  }

  /** One move of the parser; false when it needs more bytes. */
  private step(): boolean {
    const b = this.acc.subarray(0, this.len);
    if (this.start < 0) {
      const i = b.indexOf(SOI, this.pos);
      if (i < 0) {
        const to = Math.max(this.pos, this.len - 1); // the last byte may be the first half of an SOI
        this.discarded += to - this.pos;
        this.pos = to;
        return false;
      }
      this.discarded += i - this.pos;
      this.start = i;
      this.pos = i + 2;
      this.inScan = false;
      return true;
    }
    if (this.pos - this.start > this.maxFrameBytes) {
      throw new VisionError('E_CAMERA_BAD_DATA', `a frame exceeded CAMERA_MAX_FRAME_BYTES (${this.maxFrameBytes})`);
    }
    if (this.inScan) return this.scanEntropy(b);
    if (this.pos + 2 > this.len) return false;
    if (b[this.pos] !== 0xff) return this.corrupt();
    const marker = b[this.pos + 1];
    if (marker === 0xff) {
      this.pos++; // fill byte before a marker
    } else if (marker === 0xd9) {
      const end = this.pos + 2;
      this.onFrame(Buffer.from(b.subarray(this.start, end)));
      this.discarded = 0;
      this.start = -1;
      this.pos = end;
    } else if (marker === 0xd8) {
      return this.corrupt(); // an SOI inside a frame: the one before was not a frame
    } else if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      this.pos += 2; // markers without a length
    } else {
      if (this.pos + 4 > this.len) return false;
      const length = b.readUInt16BE(this.pos + 2);
      if (length < 2) return this.corrupt();
      this.pos += 2 + length;
      if (marker === 0xda) this.inScan = true;
    }
    return true;
  }

  /** Finds the marker that ends entropy-coded data; false when it is not here yet. */
  private scanEntropy(b: Buffer): boolean {
    let i = b.indexOf(0xff, this.pos);
    while (i >= 0 && i + 1 < this.len) {
      const next = b[i + 1];
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) i = b.indexOf(0xff, i + 2);
      else if (next === 0xff) i++;
      else break;
    }
    if (i < 0) {
      this.pos = this.len;
      return false;
    }
    this.pos = i;
    if (i + 1 >= this.len) return false;
    this.inScan = false; // a marker: EOI, or the next segment of a progressive JPEG
    return true;
  }

  /** Drops the frame in progress and looks for the next SOI after its own. */
  private corrupt(): boolean {
    this.pos = this.start + 2;
    this.start = -1;
    this.discarded += 2;
    return true;
  }

  private append(chunk: Buffer): void {
    if (this.len + chunk.length > this.acc.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.acc.length * 2, this.len + chunk.length));
      this.acc.copy(grown, 0, 0, this.len);
      this.acc = grown;
    }
    chunk.copy(this.acc, this.len);
    this.len += chunk.length;
  }

  /** Moves the frame in progress (or the unexamined tail) to the front of the buffer. */
  private compact(): void {
    const drop = this.start >= 0 ? this.start : Math.min(this.pos, this.len);
    if (drop > 0) {
      this.acc.copy(this.acc, 0, drop, this.len);
      this.len -= drop;
      this.pos -= drop;
      if (this.start >= 0) this.start = 0;
    }
    if (this.discarded > this.maxFrameBytes) {
      throw new VisionError('E_CAMERA_BAD_DATA', `no JPEG frame in ${this.discarded} bytes`);
    }
    // A burst of large frames grew the buffer: give the memory back once it is idle again.
    if (this.acc.length > 4 * INITIAL_CAPACITY && this.len < INITIAL_CAPACITY) {
      const shrunk = Buffer.allocUnsafe(INITIAL_CAPACITY);
      this.acc.copy(shrunk, 0, 0, this.len);
      this.acc = shrunk;
    }
  }
}
