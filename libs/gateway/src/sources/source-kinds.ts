import { VisionError } from '@vision/wire';
import type { EntryFields, FieldIssue, SourceKindDefinition } from './source-kind';

/**
 * A set of source kinds, looked up by name and by URL scheme. Two kinds claiming one name or scheme
 * would leave the second unreachable, so the set refuses them when it is built (at load).
 */
export class SourceKinds<Kind extends string> {
  private readonly byScheme = new Map<string, SourceKindDefinition<Kind>>();
  private readonly byName = new Map<string, SourceKindDefinition<Kind>>();
  private readonly pathOwner: SourceKindDefinition<Kind> | undefined;
  /** The refusal of a URL no kind owns, listing what the kinds accept. */
  readonly urlRule: string;

  constructor(readonly kinds: readonly SourceKindDefinition<Kind>[]) {
    for (const definition of kinds) {
      if (this.byName.has(definition.kind)) throw new Error(`source kind ${definition.kind} is registered twice`);
      this.byName.set(definition.kind, definition);
      for (const scheme of definition.schemes) {
        if (this.byScheme.has(scheme)) throw new Error(`URL scheme ${scheme} is claimed by two source kinds`);
        this.byScheme.set(scheme, definition);
      }
    }
    const pathOwners = kinds.filter((definition) => definition.ownsPaths);
    if (pathOwners.length > 1) throw new Error('absolute paths are claimed by two source kinds');
    this.pathOwner = pathOwners[0];
    const forms = kinds.flatMap((definition) => definition.urlForms);
    const listed = forms.length > 1 ? `${forms.slice(0, -1).join(', ')} or ${forms[forms.length - 1]}` : forms[0];
    this.urlRule = `must be ${listed}${this.pathOwner ? ' (or an absolute file path)' : ''}`;
  }

  /** The kind that owns a URL, or undefined for a URL no kind reads. */
  ofUrl(url: string): SourceKindDefinition<Kind> | undefined {
    if (url.startsWith('/')) return this.pathOwner;
    if (!URL.canParse(url)) return undefined;
    return this.byScheme.get(new URL(url).protocol);
  }

  /** A kind by name; an unknown name is refused, never read as some other kind. */
  named(kind: string): SourceKindDefinition<Kind> {
    const definition = this.byName.get(kind);
    if (!definition) throw new VisionError('E_CAMERA_INVALID', `source: unknown source kind "${kind.slice(0, 64)}"`);
    return definition;
  }

  /** The owning kind's own checks of an entry, and the refusal of fields that belong to other kinds. */
  issues(entry: EntryFields): FieldIssue[] {
    const definition = this.ofUrl(entry.url);
    if (!definition) return [];
    const issues: FieldIssue[] = [];
    for (const other of this.kinds) {
      if (other === definition) continue;
      for (const field of other.ownFields ?? [])
        if (entry[field] !== undefined)
          issues.push({ field, message: `only for ${other.urlForms.join(' and ')} cameras` });
    }
    if (entry.record === true && definition.record !== 'copy')
      issues.push({ field: 'record', message: definition.record.refused });
    return [...issues, ...(definition.validate?.(entry) ?? [])];
  }
}
