import { mkdirSync } from 'node:fs';
import type { GatewayConfig } from '@vision/config';
import { cameraDir } from '@vision/recording';
import type { CameraSpec } from '../camera-spec';
import { ffmpegArgs } from '../ffmpeg-args';
import { startFfmpegSource } from '../ffmpeg-source';
import type { FrameSource, SourceHandlers } from '../frame-source';
import type { HttpInput, SourceKindDefinition } from './source-kind';

export interface OpenSourceOptions {
  spec: CameraSpec;
  kind: SourceKindDefinition;
  config: GatewayConfig;
  /** Set once the kind's reader in Node asked for ffmpeg. */
  readAs: HttpInput | undefined;
  scrub: (text: string) => string;
}

/** Starts one attempt at a camera: the kind's reader in Node while it has one and wants it, else ffmpeg. */
export function openSource(o: OpenSourceOptions, handlers: SourceHandlers): FrameSource {
  const { camera, ffmpeg } = o.config;
  const io = { maxFrameBytes: camera.maxFrameBytes, scrub: o.scrub };
  // Sockets time out later than the watchdog fires, so a silent camera reads as E_CAMERA_STALLED.
  const ioTimeoutMs = 2 * camera.stallTimeoutMs;
  if (o.kind.startReader && o.readAs === undefined)
    return o.kind.startReader({ spec: o.spec, ioTimeoutMs, ...io }, handlers);
  const { dir, segmentSeconds } = o.config.record;
  const record = dir ? { dir, segmentSeconds } : undefined;
  // The segment muxer makes no folders; a camera not recorded gets none. A folder that cannot be
  // made fails ffmpeg, whose message names it (the camera backs off).
  if (record && o.spec.record)
    try {
      mkdirSync(cameraDir(record.dir, o.spec.id), { recursive: true });
    } catch {
      // ffmpeg reports it.
    }
  const options = { hwaccel: ffmpeg.hwaccel, jpegQuality: ffmpeg.jpegQuality, ioTimeoutMs, record };
  return startFfmpegSource(
    { ffmpegPath: ffmpeg.path, args: ffmpegArgs(o.spec, options, o.readAs), killGraceMs: ffmpeg.killGraceMs, ...io },
    handlers,
  );
}
