/** A camera's life in the gateway (docs/cameras.md, "A camera's life"); metrics get a series for each. */
export const CAMERA_STATES = ['connecting', 'streaming', 'backoff', 'stopped'] as const;
export type CameraState = (typeof CAMERA_STATES)[number];
