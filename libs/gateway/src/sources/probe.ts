/** Half a second of probing: enough where the stream names its codec, and the first frame is not delayed. */
export const PROBE_BRIEFLY = ['-analyzeduration', '500000', '-probesize', '500000'];
