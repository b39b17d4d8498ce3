import { render } from 'preact';
import { useState } from 'preact/hooks';
import { CameraView } from './camera-view';
import { saveSession, savedSession, type Session } from './session';
import { SignIn } from './sign-in';
import { Wall } from './wall';

function App() {
  const [session, setSession] = useState<Session | undefined>(savedSession);
  const [camera, setCamera] = useState<string | undefined>();
  if (!session)
    return (
      <SignIn
        onSignIn={(s) => {
          saveSession(s);
          setSession(s);
        }}
      />
    );
  return (
    <>
      <header>
        <strong>Vision site console</strong>
        {camera && (
          <button id="back" onClick={() => setCamera(undefined)}>
            ← all cameras
          </button>
        )}
        <span class="grow" />
        <span id="who" class="muted">
          {session.subject ?? 'operator'} · {[...session.scopes].join(' ') || 'no scopes'}
        </span>
        <button
          id="sign-out"
          onClick={() => {
            saveSession(undefined);
            setSession(undefined);
            setCamera(undefined);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {camera ? <CameraView session={session} camera={camera} /> : <Wall session={session} onOpen={setCamera} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
