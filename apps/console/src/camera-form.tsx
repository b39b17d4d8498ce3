import { useState } from 'preact/hooks';
import { ApiFailure, callApi } from './api';
import { fieldErrors } from './field-errors';

const FIELDS = [
  ['id', 'Camera id'],
  ['url', 'URL (rtsp://, http://, a file, /dev/video0)'],
  ['fps', 'Frames per second'],
  ['model', 'Model (empty: the site default)'],
] as const;

type Field = (typeof FIELDS)[number][0];

/** Adds a camera through `POST /v1/cameras`; the gateway's message for each field appears beside it. */
export function CameraForm({ token, onAdded }: { token: string; onAdded(): void }) {
  const [values, setValues] = useState<Record<Field, string>>({ id: '', url: '', fps: '5', model: '' });
  const [failure, setFailure] = useState<ApiFailure | undefined>();
  const errors = fieldErrors(failure);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      id: values.id,
      url: values.url,
      ...(values.fps !== '' ? { fps: Number(values.fps) } : {}),
      ...(values.model ? { model: values.model } : {}),
    };
    try {
      await callApi(token, 'POST', '/v1/cameras', body);
      setFailure(undefined);
      setValues({ id: '', url: '', fps: '5', model: '' });
      onAdded();
    } catch (err) {
      setFailure(err instanceof ApiFailure ? err : new ApiFailure(0, 'E_NETWORK', (err as Error).message, undefined));
    }
  };
  const known = new Set<string>(FIELDS.map(([f]) => f));
  const other = [...errors].filter(([f]) => !known.has(f)).map(([, m]) => m);
  return (
    <form id="add-camera" class="panel" onSubmit={(e) => void submit(e)}>
      <h3>Add a camera</h3>
      {FIELDS.map(([field, label]) => (
        <label key={field}>
          {label}{' '}
          <input
            name={field}
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
      <button type="submit">Add</button>
    </form>
  );
}
