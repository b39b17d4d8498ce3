import { startHttpSource } from '../http-source';
import { redactUrl } from '../redact';
import { PROBE_BRIEFLY } from './probe';
import type { SourceKindDefinition } from './source-kind';

/**
 * HTTP(S) cameras: MJPEG streams and snapshot URLs read in Node first; ffmpeg takes over when the
 * reader asks (frames too large, or not MJPEG), in the way the reader found the camera to be.
 */
export const httpSource: SourceKindDefinition<'http'> = {
  kind: 'http',
  schemes: ['http:', 'https:'],
  urlForms: ['http(s)://'],
  startReader: startHttpSource,
  ffmpegInput(spec, { ioTimeoutUs, readAs }) {
    const input: string[] = [];
    // image2 opens each snapshot itself and takes no I/O timeout (ffmpeg refuses the option): a
    // hung snapshot is the stall watchdog's.
    if (readAs !== 'snapshot') input.push('-rw_timeout', ioTimeoutUs);
    // A multipart stream has no timestamps: the demuxer would stamp frames at an assumed 25 fps and
    // `select` would thin on that fiction. Arrival time is the camera's real clock.
    if (readAs === 'mpjpeg') input.push('-use_wallclock_as_timestamps', '1', '-f', 'mpjpeg');
    // Anything else (`auto`, or ffmpeg from the start) is probed.
    if (readAs !== 'mpjpeg' && readAs !== 'snapshot') input.push(...PROBE_BRIEFLY);
    // `-pattern_type none`: the URL is one image, not a numbered sequence (a %40 in a password is no %d).
    if (readAs === 'snapshot')
      input.push('-re', '-f', 'image2', '-pattern_type', 'none', '-loop', '1', '-framerate', String(spec.fps));
    input.push('-i', spec.url);
    return input;
  },
  // Most are MJPEG read in Node (no ffmpeg to add an output to), and MJPEG would not fit the segments.
  record: { refused: 'http(s):// cameras cannot be recorded (MJPEG is read without ffmpeg): use rtsp://' },
  redact: redactUrl,
};
