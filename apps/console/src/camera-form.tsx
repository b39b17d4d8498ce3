import { useState } from 'preact/hooks';
import { ApiFailure, callApi, type Camera } from './api';
import { fieldErrors } from './field-errors';

const FIELDS = [
  ['id', 'Camera id'],
  ['url', 'URL (rtsp://, http://, a file, /dev/video0)'],
  ['fps', 'Frames per second'],
  ['model', 'Model (empty: the site default)'],
] as const;

type Field = (typeof FIELDS)[number][0];

const EMPTY: Record<Field, string> = { id: '', url: '', fps: '5', model: '' };

const valuesOf = (c: Camera): Record<Field, string> => ({
  id: c.id,
  url: c.url ?? '',
  fps: String(c.fps),
  model: c.model ?? '',
});

/**
 * Adds a camera through `POST /v1/cameras`, or changes one (`editing`) through
 * `PATCH /v1/cameras/{id}` with only the fields changed (the URL as the gateway shows it has its
 * credentials hidden: sent back unchanged it would lose them). The gateway's message for each field
 * appears beside it.
 */
export function CameraForm({ token, editing, onDone }: { token: string; editing?: Camera; onDone(): void }) {
  const initial = editing ? valuesOf(editing) : EMPTY;
  const [values, setValues] = useState<Record<Field, string>>(initial);
  const [failure, setFailure] = useState<ApiFailure | undefined>();
  const errors = fieldErrors(failure);
  const submit = async (e: Event) => {
    e.preventDefault();
    const changed = (f: Field) => !editing || values[f] !== initial[f];
    const body = {
      ...(editing ? {} : { id: values.id }),
      ...(changed('url') ? { url: values.url } : {}),
      ...(changed('fps') && values.fps !== '' ? { fps: Number(values.fps) } : {}),
      ...(changed('model') ? (values.model ? { model: values.model } : editing ? { model: null } : {}) : {}),
    };
    try {
      if (editing) await callApi(token, 'PATCH', `/v1/cameras/${encodeURIComponent(editing.id)}`, body);
      else await callApi(token, 'POST', '/v1/cameras', body);
      setFailure(undefined);
      setValues(EMPTY);
      onDone();
    } catch (err) {
      setFailure(err instanceof ApiFailure ? err : new ApiFailure(0, 'E_NETWORK', (err as Error).message, undefined));
    }
  };
  const known = new Set<string>(FIELDS.map(([f]) => f));
  const other = [...errors].filter(([f]) => !known.has(f)).map(([, m]) => m);
  return (
    <form id={editing ? 'change-camera' : 'add-camera'} class="panel" onSubmit={(e) => void submit(e)}>
      <h3>{editing ? `Change camera ${editing.id}` : 'Add a camera'}</h3>
      {FIELDS.map(([field, label]) => (
        <label key={field}>
          {label}{' '}
          <input
            name={field}
            disabled={Boolean(editing) && field === 'id'}
            inputMode={field === 'fps' ? 'numeric' : undefined}
            value={values[field]}
            onInput={(e) => setValues({ ...values, [field]: (e.target as HTMLInputElement).value })}
          />
          {errors.has(field) && (
            <span class="field-error" data-field={field} data-code={failure?.code}>
              {errors.get(field)}
            </span>
          )}
        </label>
      ))}
      {other.length > 0 && (
        <p class="field-error" data-field="(body)" data-code={failure?.code}>
          {other.join('; ')}
        </p>
      )}
      <button type="submit">{editing ? 'Save' : 'Add'}</button>
    </form>
  );
}
