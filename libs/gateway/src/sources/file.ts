import { fileURLToPath } from 'node:url';
import { shownAsIs, type SourceKindDefinition } from './source-kind';

/** Video files (`file://` or a bare absolute path), played at their own rate: demos and tests. */
export const fileSource: SourceKindDefinition<'file'> = {
  kind: 'file',
  schemes: ['file:'],
  urlForms: ['file://'],
  ownsPaths: true,
  ffmpegInput(spec) {
    const path = spec.url.startsWith('/') ? spec.url : fileURLToPath(spec.url);
    // -re: read at the clip's own rate, like a camera; `file:` keeps odd names from reading as protocols.
    return [...(spec.loop ? ['-stream_loop', '-1'] : []), '-re', '-i', `file:${path}`];
  },
  record: 'copy',
  redact: shownAsIs,
  stopsAtEnd: (spec) => !spec.loop,
};
