/** Query parameters whose values are credentials (`?password=`, `?token=`, `?api_key=`, …). */
const SENSITIVE_PARAM = /pass|pwd|token|key|secret|auth|sig|credential/i;
/** `scheme://user:pass@` or `scheme://user@` anywhere in a text (ffmpeg quotes its input URL in errors). */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@?#]*@/gi;
/** `password=value` style pairs anywhere in a text. */
const PARAM_PAIR = /([?&;]\s*)([^=&\s]*(?:pass|pwd|token|key|secret|auth|sig|credential)[^=&\s]*)=([^&\s#"']*)/gi;
const MASK = '***';
/** Secrets shorter than this are not scrubbed from free text (they would mangle every other word). */
const MIN_SCRUB_LENGTH = 3;

/**
 * A camera URL fit for logs, metrics and API answers: user info becomes `***:***@` and the values of
 * credential-like query parameters `***`. Strings that are not URLs pass through the text rules. Kinds
 * whose URLs name no secret (files, devices) show theirs as they are (their `redact`).
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactText(url);
  }
  if (u.username || u.password) {
    u.username = MASK;
    u.password = u.password ? MASK : '';
  }
  for (const name of [...u.searchParams.keys()]) if (SENSITIVE_PARAM.test(name)) u.searchParams.set(name, MASK);
  return u.toString();
}

/** Removes URL credentials and credential-like parameters from free text. */
export function redactText(text: string): string {
  return text.replace(USERINFO, `$1${MASK}@`).replace(PARAM_PAIR, `$1$2=${MASK}`);
}

/**
 * Scrubs one camera's secrets out of text its source produced (ffmpeg's stderr quotes the URL,
 * sometimes decoded): the URL rules, then every form of the password and credential parameters.
 */
export function scrubberFor(url: string): (text: string) => string {
  const secrets = new Set<string>();
  try {
    const u = new URL(url);
    const add = (v: string) => {
      for (const form of [v, safeDecode(v), encodeURIComponent(safeDecode(v))])
        if (form.length >= MIN_SCRUB_LENGTH) secrets.add(form);
    };
    if (u.password) add(u.password);
    for (const [name, value] of u.searchParams) if (SENSITIVE_PARAM.test(name)) add(value);
  } catch {
    // Not a URL (a file path): nothing secret in it.
  }
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = redactText(text);
    for (const s of ordered) out = out.split(s).join(MASK);
    return out;
  };
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}
