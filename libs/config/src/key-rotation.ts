/** The HS256 settings a key rotation involves, as loaded. */
interface RotationSettings {
  secret: string | undefined;
  previousSecret: string | undefined;
  previousSecretUntil: number | undefined;
}

/**
 * A previous secret is only ever a rotation window: it needs the new JWT_SECRET beside it and a
 * stated end, so a forgotten variable cannot leave a retired key valid for good. An end already
 * past is accepted (the previous secret then verifies nothing): a restart after the window must
 * not stop a role that still carries the variables.
 */
export function checkKeyRotation(a: RotationSettings, fail: (issue: string) => never): void {
  if (a.previousSecret === undefined) {
    if (a.previousSecretUntil !== undefined)
      fail('JWT_SECRET_PREVIOUS_UNTIL: only means something with JWT_SECRET_PREVIOUS');
    return;
  }
  if (a.secret === undefined) fail('JWT_SECRET_PREVIOUS: needs JWT_SECRET (the new secret, which signs)');
  if (a.previousSecret === a.secret) fail('JWT_SECRET_PREVIOUS: must differ from JWT_SECRET');
  if (a.previousSecretUntil === undefined)
    fail(
      'JWT_SECRET_PREVIOUS: needs JWT_SECRET_PREVIOUS_UNTIL (an ISO time, e.g. 2026-12-08T06:00:00Z) to end the window',
    );
}

/** A webhook's previous secret signs beside the current one, so it needs one and must differ from it. */
export function checkWebhookRotation(
  name: string,
  secret: string | undefined,
  previousSecret: string | undefined,
  fail: (issue: string) => never,
): void {
  if (previousSecret === undefined) return;
  if (secret === undefined) fail(`${name}_PREVIOUS: needs ${name} (the new secret)`);
  if (previousSecret === secret) fail(`${name}_PREVIOUS: must differ from ${name}`);
}
