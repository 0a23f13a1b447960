// SPDX-License-Identifier: GPL-2.0-or-later
// First-run setup (the first admin account: there is no default password) and the login form.

import { useState } from 'preact/hooks';
import { ApiError, api, fieldErrors } from '../api.ts';
import type { Me } from '../types.ts';
import { ErrorBox, PageTitle, TextField } from '../ui.tsx';

function errorFor(err: unknown, path: string): string | undefined {
  return fieldErrors(err).find((f) => f.path === path)?.message;
}

export function SetupPage({ onDone }: { onDone: (me: Me) => void }) {
  const [name, setName] = useState('admin');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const mismatch = again !== '' && again !== password;
  return (
    <main id="main" class="narrow">
      <PageTitle>Set up this switch</PageTitle>
      <p>
        This box has no accounts yet. Create the first administrator: there is no default password,
        and nobody can use the switch until this is done.
      </p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (mismatch) return;
          setBusy(true);
          setError(undefined);
          try {
            const r = await api<{ user: string; role: Me['role']; csrf: string }>(
              'POST',
              '/api/setup',
              { name, password },
              { quiet401: true },
            );
            onDone({ user: r.user, role: r.role, csrf: r.csrf });
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <TextField
          label="Administrator name"
          hint="3 to 32 letters, digits, dots, dashes or underscores"
          {...(errorFor(error, 'body.name') ? { error: errorFor(error, 'body.name') } : {})}
          name="username"
          autoComplete="username"
          required
          value={name}
          onValue={setName}
        />
        <TextField
          label="Password"
          hint="At least 10 characters mixing two kinds (lower case, upper case, digits, others), 5 different ones, not the name"
          {...(errorFor(error, 'body.password') ? { error: errorFor(error, 'body.password') } : {})}
          type="password"
          name="new-password"
          autoComplete="new-password"
          required
          minLength={10}
          value={password}
          onValue={setPassword}
        />
        <TextField
          label="Password again"
          {...(mismatch ? { error: 'does not match' } : {})}
          type="password"
          autoComplete="new-password"
          required
          value={again}
          onValue={setAgain}
        />
        {!(error instanceof ApiError && fieldErrors(error).length > 0) && (
          <ErrorBox error={error} />
        )}
        <button type="submit" class="primary" disabled={busy || mismatch}>
          Create the administrator
        </button>
      </form>
    </main>
  );
}

export function LoginPage({ onDone, reason }: { onDone: (me: Me) => void; reason?: string }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="narrow">
      <PageTitle>Log in to the switch</PageTitle>
      {reason && (
        <p class="notice" role="status">
          {reason}
        </p>
      )}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            const r = await api<{ user: string; role: Me['role']; csrf: string }>(
              'POST',
              '/api/login',
              { name, password },
              { quiet401: true },
            );
            setPassword('');
            onDone({ user: r.user, role: r.role, csrf: r.csrf });
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <TextField
          label="User name"
          name="username"
          autoComplete="username"
          required
          value={name}
          onValue={setName}
        />
        <TextField
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onValue={setPassword}
        />
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
