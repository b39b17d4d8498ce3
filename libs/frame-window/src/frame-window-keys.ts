/**
 * Every key of the frame window, on the frames Redis (never the state Redis: frames must not be
 * persisted), under REDIS_PREFIX.
 */
export function frameWindowKeys(prefix: string) {
  const base = `${prefix}:evidence:`;
  return {
    /** What the prefix of a camera's keys is, for the put script's sweep of silent cameras. */
    cameraKeyPrefix: base,
    /** String (JSON `FrameWindowPolicy`) the events service refreshes; expires when it stops. */
    policy: `${base}policy`,
    /** Hash `<frame>:<captureTs>` -> the frame's encoded bytes, as the client sent them. */
    frames: (camera: string) => `${base}frames:${camera}`,
    /** List `<frame>:<captureTs>|<bytes>|<keptAt>`, oldest first: the order frames leave in. */
    order: (camera: string) => `${base}order:${camera}`,
    /** Sorted set camera -> when it last kept a frame (epoch ms). */
    cameras: `${base}cameras`,
    /** Hash camera -> bytes its window holds. */
    bytes: `${base}bytes`,
    /** String: bytes all windows hold together. */
    total: `${base}total`,
  };
}

export type FrameWindowKeys = ReturnType<typeof frameWindowKeys>;

/** The field of a frame in its camera's window: a client's frame ids may repeat after a restart, capture times not. */
export function frameField(frame: number, captureTs: number): string {
  return `${frame}:${captureTs}`;
}
