import type { ApiFailure } from './api';
import type { Draft } from './geometry';

export interface EditorProps {
  draft: Draft;
  classes: string[];
  failure: ApiFailure | undefined;
  saving: boolean;
  selected: number | undefined;
  onChange(draft: Draft): void;
  onDeleteVertex(): void;
  onSave(): void;
  onCancel(): void;
}

/** The field an API error names, as the editor groups them: `classes[0]` is the classes, `to` the geometry. */
function fieldGroup(field: string | undefined): 'id' | 'classes' | 'geometry' | 'inertia' | 'dwellS' | 'other' {
  const root = field?.split(/[.[]/)[0];
  if (root === 'id' || root === 'inertia' || root === 'dwellS') return root;
  if (root === 'classes') return 'classes';
  if (root === 'from' || root === 'to' || root === 'polygon' || root === 'units') return 'geometry';
  return 'other';
}

function FieldError({ failure, group }: { failure: ApiFailure | undefined; group: string }) {
  if (!failure || fieldGroup(failure.field) !== group) return null;
  return (
    <span class="field-error" data-field={failure.field ?? ''} data-code={failure.code}>
      {failure.code}: {failure.message}
    </span>
  );
}

interface NumberFieldProps extends Pick<EditorProps, 'draft' | 'failure' | 'onChange'> {
  /** The rule's field the input sets; empty leaves it out (the API then applies its default). */
  field: 'inertia' | 'dwellS';
  label: string;
  min: string;
  step: string;
  placeholder: string;
  hint: string;
}

/** An optional number of the rule, with the API's error about it beside it. */
function NumberField({ draft, failure, onChange, field, label, hint, ...input }: NumberFieldProps) {
  return (
    <label>
      {label}{' '}
      <input
        id={field === 'dwellS' ? 'rule-dwell' : `rule-${field}`}
        type="number"
        {...input}
        value={draft[field] ?? ''}
        onInput={(e) => {
          const text = (e.target as HTMLInputElement).value;
          onChange({ ...draft, [field]: text === '' ? undefined : Number(text) });
        }}
      />
      <span class="muted"> {hint}</span>
      <FieldError failure={failure} group={field} />
    </label>
  );
}

export function RuleEditor(p: EditorProps) {
  const { draft } = p;
  const done = draft.type === 'line' ? draft.points.length === 2 : draft.points.length >= 3;
  const hint =
    draft.type === 'line'
      ? draft.points.length < 2
        ? `click the picture: point ${draft.points.length + 1} of 2`
        : 'drag the ends to move them; the dashed arrow is the "in" direction'
      : 'click to add corners; drag a corner to move it; click an edge’s midpoint to add one there; ' +
        'select one and press Delete to remove it';
  return (
    <form
      id="rule-editor"
      class="panel"
      onSubmit={(e) => {
        e.preventDefault();
        p.onSave();
      }}
    >
      <h3>{draft.type === 'line' ? 'Line' : 'Zone'}</h3>
      <label>
        Rule id{' '}
        <input
          id="rule-id"
          value={draft.id}
          onInput={(e) => p.onChange({ ...draft, id: (e.target as HTMLInputElement).value })}
        />
        <FieldError failure={p.failure} group="id" />
      </label>
      <div id="geometry">
        <span class="muted">{hint}</span>
        <FieldError failure={p.failure} group="geometry" />
      </div>
      {draft.type === 'line' && (
        <button
          type="button"
          id="flip"
          disabled={draft.points.length !== 2}
          onClick={() => p.onChange({ ...draft, points: [...draft.points].reverse() })}
        >
          Flip direction
        </button>
      )}
      {draft.type === 'zone' && (
        <button type="button" id="delete-vertex" disabled={p.selected === undefined} onClick={p.onDeleteVertex}>
          Delete corner
        </button>
      )}
      <fieldset id="classes">
        <legend>Classes (none: every class)</legend>
        {p.classes.map((c) => (
          <label key={c}>
            <input
              type="checkbox"
              value={c}
              checked={draft.classes.includes(c)}
              onChange={(e) =>
                p.onChange({
                  ...draft,
                  classes: (e.target as HTMLInputElement).checked
                    ? [...draft.classes, c]
                    : draft.classes.filter((x) => x !== c),
                })
              }
            />{' '}
            {c}
          </label>
        ))}
        <FieldError failure={p.failure} group="classes" />
      </fieldset>
      <NumberField
        field="inertia"
        label="Inertia"
        min="1"
        step="1"
        placeholder="site default"
        hint="frames in a row before it counts"
        draft={draft}
        failure={p.failure}
        onChange={p.onChange}
      />
      {draft.type === 'zone' && (
        <NumberField
          field="dwellS"
          label="Dwell"
          min="0"
          step="any"
          placeholder="none"
          hint="seconds inside before zone.dwell"
          draft={draft}
          failure={p.failure}
          onChange={p.onChange}
        />
      )}
      <FieldError failure={p.failure} group="other" />
      <div>
        <button type="submit" id="save-rule" disabled={p.saving || !draft.id}>
          {done ? 'Save' : 'Save as drawn'}
        </button>{' '}
        <button type="button" onClick={p.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
