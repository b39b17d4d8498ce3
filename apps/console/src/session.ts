/** Where the token is kept: this tab's session storage, so it leaves with the tab and never enters a URL. */
const STORAGE_KEY = 'vision-console.token';

/** The scopes each part of the console uses (the APIs check them; the console only hides what would be refused). */
export const SCOPES = {
  camerasRead: 'cameras:read',
  camerasWrite: 'cameras:write',
  eventsRead: 'events:read',
  eventsWrite: 'events:write',
} as const;

export interface Session {
  token: string;
  subject: string | undefined;
  /** From the token's `scope` claim, read without verifying it: a hint for the UI, never a permission. */
  scopes: Set<string>;
  /** Epoch ms, when the token says. */
  expiresAt: number | undefined;
}

/** Reads a JWT's payload; the signature is the APIs' business. */
export function sessionOf(token: string): Session {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new Error('this is not a JWT (three dot-separated parts)');
  let payload: { sub?: unknown; scope?: unknown; scopes?: unknown; exp?: unknown };
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    payload = JSON.parse(decodeURIComponent(escape(atob(base64)))) as typeof payload;
  } catch {
    throw new Error("the token's payload is not base64url JSON");
  }
  const listed =
    typeof payload.scope === 'string'
      ? payload.scope.split(' ')
      : Array.isArray(payload.scopes)
        ? payload.scopes.filter((s): s is string => typeof s === 'string')
        : [];
  return {
    token: token.trim(),
    subject: typeof payload.sub === 'string' ? payload.sub : undefined,
    scopes: new Set(listed.filter(Boolean)),
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
  };
}

export function can(session: Session, scope: string): boolean {
  return session.scopes.has(scope);
}

export function savedSession(): Session | undefined {
  const token = sessionStorage.getItem(STORAGE_KEY);
  if (!token) return undefined;
  try {
    return sessionOf(token);
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(STORAGE_KEY, session.token);
  else sessionStorage.removeItem(STORAGE_KEY);
}
