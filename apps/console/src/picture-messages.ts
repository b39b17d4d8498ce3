/** What the page and the wall's picture worker (`snapshot-worker.ts`) say to each other. */

/** A tile asks for its camera's snapshot again this long after the last answer. */
export const PICTURE_REFRESH_MS = 1000;
/** How often the worker tells the page which pictures changed (tests and the bench read it). */
export const PICTURE_REPORT_MS = 1000;

/** How many pictures a tile has shown, and the newest one's size. */
export interface PictureCount {
  frames: number;
  width: number;
  height: number;
}

export type ToPictures =
  | { type: 'token'; token: string }
  | { type: 'watch'; camera: string; canvas: OffscreenCanvas }
  | { type: 'unwatch'; camera: string };

export type FromPictures = { type: 'shown'; shown: Record<string, PictureCount> };
