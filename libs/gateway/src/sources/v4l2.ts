import { shownAsIs, type SourceKindDefinition } from './source-kind';

/** A local capture device (`v4l2:///dev/video0`). */
export const v4l2Source: SourceKindDefinition<'v4l2'> = {
  kind: 'v4l2',
  schemes: ['v4l2:'],
  urlForms: ['v4l2://'],
  ffmpegInput: (spec) => ['-f', 'v4l2', '-i', new URL(spec.url).pathname],
  record: { refused: 'v4l2:// devices deliver raw frames: recording them would mean encoding (not supported)' },
  redact: shownAsIs,
};
