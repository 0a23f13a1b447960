// SPDX-License-Identifier: GPL-2.0-or-later
// Users and roles (admin), and one's own password (everyone).

import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { ROLES, type Role } from '../types.ts';
import {
  ActionButton,
  ErrorBox,
  Field,
  Notice,
  PageTitle,
  Section,
  TextField,
  useLoad,
  when,
} from '../ui.tsx';

interface User {
  name: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
}

const ROLE_WORDS: Record<Role, string> = {
  viewer: 'sees everything, changes nothing',
  operator: 'also test calls, blocking channels, campaigns',
  installer: 'also trunks, routing, flows, traces',
  admin: 'also users, logs, backup and restore',
};

function MyPassword() {
  const [oldPassword, setOld] = useState('');
  const [newPassword, setNew] = useState('');
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  return (
    <Section title="My password">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone('');
          api('POST', '/api/me/password', { oldPassword, newPassword }).then(() => {
            setError(undefined);
            setOld('');
            setNew('');
            setDone('Password changed; your other sessions have ended.');
          }, setError);
        }}
      >
        <TextField
          label="Current password"
          type="password"
          autoComplete="current-password"
          required
          value={oldPassword}
          onValue={setOld}
        />
        <TextField
          label="New password"
          hint="at least 10 characters, two kinds, 5 different ones, not your name"
          type="password"
          autoComplete="new-password"
          required
          minLength={10}
          value={newPassword}
          onValue={setNew}
        />
        <ErrorBox error={error} />
        <Notice>{done}</Notice>
        <button type="submit">Change my password</button>
      </form>
    </Section>
  );
}

function UserAdmin({ me }: { me: string }) {
  const users = useLoad(() => api<User[]>('GET', '/api/users'));
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const [resetFor, setResetFor] = useState<string>();
  const [resetTo, setResetTo] = useState('');
  const change = (u: string, body: object, words: string) => async () => {
    setError(undefined);
    await api('PATCH', `/api/users/${encodeURIComponent(u)}`, body);
    setDone(`${u}: ${words}`);
    users.reload();
  };
  return (
    <>
      <Section title="Users">
        <Notice>{done}</Notice>
        <ErrorBox error={error ?? users.error} />
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(users.value ?? []).map((u) => (
                <tr key={u.name} data-user={u.name}>
                  <th scope="row">
                    {u.name}
                    {u.name === me && <span class="muted"> (you)</span>}
                  </th>
                  <td>
                    <label class="sr-only" for={`role-${u.name}`}>
                      Role of {u.name}
                    </label>
                    <select
                      id={`role-${u.name}`}
                      value={u.role}
                      onChange={(e) => {
                        const r = (e.currentTarget as HTMLSelectElement).value;
                        change(u.name, { role: r }, `role ${r}`)().catch(setError);
                      }}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>{u.disabled ? 'disabled' : 'enabled'}</td>
                  <td>{when(u.createdAt)}</td>
                  <td class="row-actions">
                    <ActionButton
                      onError={setError}
                      onAction={change(
                        u.name,
                        { disabled: !u.disabled },
                        u.disabled ? 'enabled' : 'disabled (logged out)',
                      )}
                    >
                      {u.disabled ? 'Enable' : 'Disable'}
                    </ActionButton>
                    <button type="button" onClick={() => setResetFor(u.name)}>
                      Set password
                    </button>
                    {u.name !== me && (
                      <ActionButton
                        class="danger"
                        onError={setError}
                        onAction={async () => {
                          if (
                            !confirm(
                              `Delete ${u.name}? Their sessions end and their API tokens are revoked.`,
                            )
                          )
                            return;
                          await api('DELETE', `/api/users/${encodeURIComponent(u.name)}`);
                          setDone(`${u.name} deleted`);
                          users.reload();
                        }}
                      >
                        Delete
                      </ActionButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {resetFor && (
          <form
            class="card inset"
            onSubmit={(e) => {
              e.preventDefault();
              change(resetFor, { password: resetTo }, 'password set, sessions ended')().then(() => {
                setResetFor(undefined);
                setResetTo('');
              }, setError);
            }}
          >
            <TextField
              label={`New password for ${resetFor}`}
              type="password"
              autoComplete="new-password"
              required
              minLength={10}
              value={resetTo}
              onValue={setResetTo}
            />
            <div class="row-actions">
              <button type="submit" class="primary">
                Set the password
              </button>
              <button type="button" onClick={() => setResetFor(undefined)}>
                Cancel
              </button>
            </div>
          </form>
        )}
      </Section>
      <Section title="Add a user">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            api('POST', '/api/users', { name, password, role }).then(() => {
              setError(undefined);
              setDone(`${name} added as ${role}`);
              setName('');
              setPassword('');
              users.reload();
            }, setError);
          }}
        >
          <div class="fields">
            <TextField
              label="User name"
              hint="3 to 32 letters, digits, dots, dashes or underscores"
              required
              autoComplete="off"
              value={name}
              onValue={setName}
            />
            <TextField
              label="Password"
              type="password"
              autoComplete="new-password"
              required
              minLength={10}
              value={password}
              onValue={setPassword}
            />
            <Field label="Role" hint={ROLE_WORDS[role]}>
              {(a) => (
                <select
                  {...a}
                  value={role}
                  onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as Role)}
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          <button type="submit" class="primary">
            Add the user
          </button>
        </form>
      </Section>
      <Section title="Roles">
        <dl class="facts wide">
          {ROLES.map((r) => (
            <Fragment key={r}>
              <dt>{r}</dt>
              <dd>{ROLE_WORDS[r]}</dd>
            </Fragment>
          ))}
        </dl>
      </Section>
    </>
  );
}

export function UsersPage({ me }: PageProps) {
  return (
    <>
      <PageTitle>{me.role === 'admin' ? 'Users' : 'Account'}</PageTitle>
      <p>
        Logged in as <strong>{me.user}</strong>, role <strong>{me.role}</strong>.
      </p>
      {me.role === 'admin' && <UserAdmin me={me.user} />}
      <MyPassword />
    </>
  );
}
