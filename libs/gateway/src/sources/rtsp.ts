import { redactUrl } from '../redact';
import { PROBE_BRIEFLY } from './probe';
import type { SourceKindDefinition } from './source-kind';

/** RTSP cameras, and RTSP over TLS (`rtsps://`), read by ffmpeg. */
export const rtspSource: SourceKindDefinition<'rtsp'> = {
  kind: 'rtsp',
  schemes: ['rtsp:', 'rtsps:'],
  urlForms: ['rtsp://', 'rtsps://'],
  ownFields: ['rtspTransport'],
  validate(entry) {
    // ffmpeg carries rtsps media inside the TLS connection only (UDP would leave it unencrypted).
    return entry.rtspTransport === 'udp' && entry.url.startsWith('rtsps:')
      ? [{ field: 'rtspTransport', message: 'rtsps:// cameras stream over TCP only' }]
      : [];
  },
  ffmpegInput(spec, input) {
    // TCP by default: a lost UDP packet is a smeared frame. `-timeout` ends a silent connection. The
    // SDP names the codec, so a brief probe is enough (the default 5 s delays the first frame).
    return [
      '-rtsp_transport',
      spec.rtspTransport,
      '-timeout',
      input.ioTimeoutUs,
      '-fflags',
      'nobuffer',
      '-flags',
      'low_delay',
      ...PROBE_BRIEFLY,
      '-i',
      spec.url,
    ];
  },
  record: 'copy',
  redact: redactUrl,
};
