/** What a snapshot shows: one track event's frame and box. */
export interface SnapshotSubject {
  /** The event id (`ev_` and 22 base64url characters). */
  id: string;
  camera: string;
  /** Capture time of the frame, epoch ms. */
  ts: number;
  frame: number;
  /** The tracked box in original-image pixels. */
  box: [number, number, number, number];
}

export type SnapshotState = 'pending' | 'stored' | 'failed';

/** Why a snapshot could not be made; each is counted and logged. */
export type SnapshotFailure = 'frame_gone' | 'decode' | 'disk_full' | 'write' | 'queue_full';

/** The record stored beside the pictures: what the API answers from. */
export interface SnapshotRecord extends SnapshotSubject {
  state: SnapshotState;
  /** When the event was committed (epoch ms): a pending snapshot older than the API's patience is given up on. */
  committedAt: number;
  reason?: SnapshotFailure;
  storedAt?: number;
  /** The stored picture's size (after any downscale). */
  width?: number;
  height?: number;
}

const EVENT_ID = /^ev_[A-Za-z0-9_-]{22}$/;

export function isEventId(id: string): boolean {
  return EVENT_ID.test(id);
}

/**
 * An event's three objects, in a folder named after two characters of its id (uniform: the ids
 * are hashes) so no folder holds more than a small share of them.
 */
export function snapshotKeys(id: string): { record: string; full: string; crop: string } {
  if (!isEventId(id)) throw new Error(`not an event id: ${id}`);
  const folder = id.slice(3, 5);
  return { record: `${folder}/${id}.json`, full: `${folder}/${id}.jpg`, crop: `${folder}/${id}.crop.jpg` };
}

/** The event id an object belongs to, or undefined for a key that is no snapshot's. */
export function eventIdOfKey(key: string): string | undefined {
  const match = /\/(ev_[A-Za-z0-9_-]{22})\.(json|jpg|crop\.jpg)$/.exec(key);
  return match?.[1];
}

/** The path of an event's snapshot on the events API, carried by the event itself. */
export function snapshotPath(id: string): string {
  return `/v1/events/${id}/snapshot`;
}
