import { fileSource } from './file';
import { httpSource } from './http';
import { rtspSource } from './rtsp';
import { SourceKinds } from './source-kinds';
import { testsrcSource } from './testsrc';
import { v4l2Source } from './v4l2';

/** Every source kind the gateway reads; a new kind is one file in this folder and one entry here. */
const REGISTERED = [rtspSource, httpSource, fileSource, v4l2Source, testsrcSource] as const;

/** How a camera's frames are pulled: the name of one registered kind. */
export type SourceKind = (typeof REGISTERED)[number]['kind'];

export const sourceKinds = new SourceKinds<SourceKind>(REGISTERED);
