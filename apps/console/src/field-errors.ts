import type { ApiFailure } from './api';

/**
 * An API failure's message per field: the events API names it in `field`; the gateway's
 * `E_CAMERA_INVALID` names each in its message (`fps: Too big…; url: …`). What names no field is `(body)`.
 */
export function fieldErrors(failure: ApiFailure | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!failure) return out;
  if (failure.field) return out.set(failure.field.split(/[.[]/)[0], `${failure.code}: ${failure.message}`);
  for (const part of failure.message.split('; ')) {
    const m = /^([A-Za-z]+)(?:[.[][^:]*)?: (.*)$/.exec(part);
    const field = m ? m[1] : '(body)';
    const text = `${failure.code}: ${m ? m[2] : part}`;
    out.set(field, out.has(field) ? `${out.get(field)}; ${text}` : text);
  }
  return out;
}
