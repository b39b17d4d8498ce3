import type { FrameJobMeta } from './frame-job';
import type { Delivery } from './transport';

/** An entry as XREADGROUP / XAUTOCLAIM return it: its id and its field list (null once trimmed). */
export type StreamEntry = [Buffer, Buffer[] | null];

/** Stream ids in order (\`ms-seq\`, both parts compared as integers). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : am < bm ? -1 : 1;
}

export function metaOf(job: Delivery['job']): FrameJobMeta {
  const { image, ...meta } = job;
  return meta;
}

/** A frame from its stream entry, or undefined when the entry is malformed or its image was trimmed. */
export function decodeEntry(fields: Buffer[]): Delivery['job'] | undefined {
  let meta: FrameJobMeta | undefined;
  let image: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i].toString();
    if (k === 'm') {
      try {
        meta = JSON.parse(fields[i + 1].toString('utf8')) as FrameJobMeta;
      } catch {
        return undefined;
      }
    } else if (k === 'img') image = fields[i + 1];
  }
  return meta && image ? { ...meta, image } : undefined;
}
