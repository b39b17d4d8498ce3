import { VisionError } from '@vision/wire';
import { fileSource } from './file';
import { httpSource } from './http';
import { rtspSource } from './rtsp';
import type { EntryFields, FieldIssue, SourceKindDefinition } from './source-kind';
import { testsrcSource } from './testsrc';
import { v4l2Source } from './v4l2';

/** Every source kind the gateway reads; a new kind is one file in this folder and one line here. */
const SOURCE_KINDS = [rtspSource, httpSource, fileSource, v4l2Source, testsrcSource] as const;

/** How a camera's frames are pulled: the name of one registered kind. */
export type SourceKind = (typeof SOURCE_KINDS)[number]['kind'];

const byScheme = new Map<string, SourceKindDefinition<SourceKind>>();
const byKind = new Map<string, SourceKindDefinition<SourceKind>>();
for (const definition of SOURCE_KINDS) {
  // Two kinds claiming one name or scheme would make the second unreachable: refused at load.
  if (byKind.has(definition.kind)) throw new Error(`source kind ${definition.kind} is registered twice`);
  byKind.set(definition.kind, definition);
  for (const scheme of definition.schemes) {
    if (byScheme.has(scheme)) throw new Error(`URL scheme ${scheme} is claimed by two source kinds`);
    byScheme.set(scheme, definition);
  }
}
const pathOwner = SOURCE_KINDS.find((definition) => definition.ownsPaths);

/** The refusal of a URL no kind owns, listing what the registered kinds accept. */
export const URL_RULE = (() => {
  const forms = SOURCE_KINDS.flatMap((definition) => definition.urlForms);
  const listed = `${forms.slice(0, -1).join(', ')} or ${forms[forms.length - 1]}`;
  return `must be ${listed}${pathOwner ? ' (or an absolute file path)' : ''}`;
})();

/** The kind that owns a URL, or undefined for a URL no kind reads. */
export function sourceKindOfUrl(url: string): SourceKindDefinition<SourceKind> | undefined {
  if (url.startsWith('/')) return pathOwner;
  if (!URL.canParse(url)) return undefined;
  return byScheme.get(new URL(url).protocol);
}

/** A kind by name; an unknown name is refused, never read as some other kind. */
export function sourceKind(kind: string): SourceKindDefinition<SourceKind> {
  const definition = byKind.get(kind);
  if (!definition) throw new VisionError('E_CAMERA_INVALID', `source: unknown source kind "${kind.slice(0, 64)}"`);
  return definition;
}

/** The kind's own checks of an entry, and its refusal of fields that belong to other kinds. */
export function sourceIssues(entry: EntryFields): FieldIssue[] {
  const definition = sourceKindOfUrl(entry.url);
  if (!definition) return [];
  const issues: FieldIssue[] = [];
  for (const other of SOURCE_KINDS) {
    if (other === definition) continue;
    for (const field of other.ownFields ?? [])
      if (entry[field] !== undefined)
        issues.push({ field, message: `only for ${other.urlForms.join(' and ')} cameras` });
  }
  return [...issues, ...(definition.validate?.(entry) ?? [])];
}
