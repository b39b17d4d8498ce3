import { createHash } from 'node:crypto';
import type { CameraEntry } from './camera-spec';

/**
 * The gateway (0 … count−1) that serves a camera: its `gateway` field when it has one, else the
 * first four bytes of SHA-256 of its id, big-endian, modulo `count`. Stable across restarts, hosts
 * and languages, so every gateway of a site agrees without talking to the others.
 */
export function assignedGateway(camera: Pick<CameraEntry, 'id' | 'gateway'>, count: number): number {
  if (camera.gateway !== undefined) return camera.gateway;
  return createHash('sha256').update(camera.id).digest().readUInt32BE(0) % count;
}
