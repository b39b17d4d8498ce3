import { useState } from 'preact/hooks';
import { SCOPES, sessionOf, type Session } from './session';

const NEEDS: [string, string][] = [
  [SCOPES.camerasRead, 'the cameras wall and pictures'],
  [SCOPES.camerasWrite, 'adding, pausing and removing cameras'],
  [SCOPES.eventsRead, 'rules, counts and the events timeline'],
  [SCOPES.eventsWrite, 'drawing and saving rules'],
];

/** The token is pasted, never put in the address: it would land in history, logs and Referer headers. */
export function SignIn({ onSignIn }: { onSignIn(session: Session): void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const submit = (e: Event) => {
    e.preventDefault();
    try {
      onSignIn(sessionOf(token));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main>
      <h1>Vision site console</h1>
      <form id="sign-in" onSubmit={submit}>
        <label>
          Paste your token
          <br />
          <textarea
            id="token"
            rows={4}
            cols={80}
            value={token}
            onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        {error && <div class="error">{error}</div>}
        <button type="submit">Sign in</button>
      </form>
      <p>The console uses these scopes; a token without one simply does not get that part:</p>
      <ul id="scopes-needed">
        {NEEDS.map(([scope, what]) => (
          <li key={scope}>
            <code>{scope}</code>: {what}
          </li>
        ))}
      </ul>
      <p class="muted">
        <code>npm run token -- --sub ops --scope cameras:read,cameras:write,events:read,events:write</code> prints one.
        It stays in this tab only (session storage).
      </p>
    </main>
  );
}
