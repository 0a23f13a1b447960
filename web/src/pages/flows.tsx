// SPDX-License-Identifier: GPL-2.0-or-later
// IVR flows: the list, a drawing of each, its versions (activate an older one), upload, check and delete.

import { useState } from 'preact/hooks';
import { api, fieldErrors, query } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { FlowGraph } from '../flow-graph.tsx';
import type { FlowLike } from '../flow-layout.ts';
import { go } from '../router.ts';
import { roleAtLeast } from '../types.ts';
import {
  ActionButton,
  ErrorBox,
  Field,
  FileField,
  Notice,
  PageTitle,
  Section,
  TextField,
  useLoad,
  when,
} from '../ui.tsx';

interface FlowSummary {
  name: string;
  description?: string;
  version: number;
  updatedAt: string;
  author: string;
  versions: number;
}

interface FlowVersion {
  name: string;
  version: number;
  createdAt: string;
  author: string;
  comment: string;
  active: boolean;
}

/** The `name:` of a YAML flow file (the server parses the file; this only fills the field). */
export function yamlName(text: string): string | undefined {
  const m = /^name:\s*['"]?([A-Za-z0-9_.-]+)['"]?\s*(#.*)?$/m.exec(text);
  return m?.[1];
}

function Upload(props: { onSaved: (name: string) => void }) {
  const [file, setFile] = useState<File>();
  const [text, setText] = useState('');
  const [name, setName] = useState('');
  const [comment, setComment] = useState('');
  const [check, setCheck] = useState<{
    ok: boolean;
    errors?: { path: string; message: string }[];
  }>();
  const [preview, setPreview] = useState<FlowLike>();
  const [error, setError] = useState<unknown>();
  const json = file?.name.endsWith('.json') ?? false;
  const body = (): [unknown, { contentType?: string }] =>
    json ? [JSON.parse(text), {}] : [text, { contentType: 'application/yaml' }];
  return (
    <Section title="Upload a flow">
      <FileField
        label="Flow file (YAML or JSON)"
        accept=".yaml,.yml,.json,application/json,application/yaml"
        hint="as in board/demo/flows; every node type and option: the API documentation, tag flows"
        onFile={async (f) => {
          setFile(f);
          setCheck(undefined);
          setPreview(undefined);
          setError(undefined);
          if (!f) return;
          const t = await f.text();
          setText(t);
          let n: string | undefined;
          if (f.name.endsWith('.json')) {
            try {
              const doc = JSON.parse(t) as FlowLike & { name?: string };
              n = doc.name;
              if (doc.nodes && doc.start) setPreview(doc);
            } catch (err) {
              setError(err);
            }
          } else n = yamlName(t);
          setName(n ?? f.name.replace(/\.(ya?ml|json)$/, ''));
        }}
      />
      <Field
        label="Flow name"
        hint="the name routes use (destination ivr); it must match the file's name"
      >
        {(a) => (
          <input
            {...a}
            value={name}
            pattern="[A-Za-z0-9_.\-]{1,40}"
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
      <TextField label="Comment (kept with the version)" value={comment} onValue={setComment} />
      <div class="row-actions">
        <ActionButton
          disabled={!file || text === ''}
          onError={setError}
          onAction={async () => {
            setError(undefined);
            const [b, o] = body();
            setCheck(await api('POST', '/api/flows/validate', b, o));
          }}
        >
          Check
        </ActionButton>
        <ActionButton
          class="primary"
          disabled={!file || name === ''}
          onError={(err) => {
            setError(err);
            const errors = fieldErrors(err);
            if (errors.length > 0) setCheck({ ok: false, errors });
          }}
          onAction={async () => {
            setError(undefined);
            const [b, o] = body();
            await api(
              'PUT',
              `/api/flows/${encodeURIComponent(name)}${query({ comment: comment || undefined })}`,
              b,
              o,
            );
            setCheck(undefined);
            props.onSaved(name);
          }}
        >
          Save and activate
        </ActionButton>
      </div>
      {check && (
        <div role="status" class={check.ok ? 'notice' : 'error-box'} data-testid="flow-check">
          {check.ok ? (
            'The flow passes every check.'
          ) : (
            <>
              <p>The flow is refused:</p>
              <ul>
                {(check.errors ?? []).map((e) => (
                  <li key={e.path + e.message}>
                    <code>{e.path}</code>: {e.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
      {!check?.ok && <ErrorBox error={error} />}
      {preview && <FlowGraph flow={preview} title={`Preview of ${name}`} />}
    </Section>
  );
}

function FlowDetail(props: {
  name: string;
  canEdit: boolean;
  canDelete: boolean;
  onChanged: () => void;
}) {
  const flow = useLoad(
    () =>
      Promise.all([
        api<FlowVersion & { flow: FlowLike & { description?: string } }>(
          'GET',
          `/api/flows/${encodeURIComponent(props.name)}`,
        ),
        api<{ versions: FlowVersion[] }>(
          'GET',
          `/api/flows/${encodeURIComponent(props.name)}/versions`,
        ),
      ]),
    [props.name],
  );
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const [confirmDelete, setConfirmDelete] = useState(false);
  if (flow.error) return <ErrorBox error={flow.error} />;
  if (!flow.value) return <p aria-busy="true">Loading {props.name}...</p>;
  const [active, { versions }] = flow.value;
  return (
    <Section title={`Flow ${props.name}, version ${active.version}`}>
      {active.flow.description && <p>{active.flow.description}</p>}
      <Notice>{done}</Notice>
      <ErrorBox error={error} />
      <FlowGraph flow={active.flow} title={`Flow ${props.name} version ${active.version}`} />
      <h3>Versions</h3>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Saved</th>
              <th scope="col">By</th>
              <th scope="col">Comment</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <th scope="row">
                  {v.version} {v.active && <span class="badge ok">active</span>}
                </th>
                <td>{when(v.createdAt)}</td>
                <td>{v.author}</td>
                <td>{v.comment}</td>
                <td>
                  {props.canEdit && !v.active && (
                    <ActionButton
                      onError={setError}
                      onAction={async () => {
                        // Activating an older version saves its document again as the newest.
                        const old = await api<{ flow: unknown }>(
                          'GET',
                          `/api/flows/${encodeURIComponent(props.name)}/versions/${v.version}`,
                        );
                        const r = await api<{ version: number }>(
                          'PUT',
                          `/api/flows/${encodeURIComponent(props.name)}${query({ comment: `activates version ${v.version}`, base: active.version })}`,
                          old.flow,
                        );
                        setDone(`Version ${v.version} is active again (as version ${r.version}).`);
                        flow.reload();
                        props.onChanged();
                      }}
                    >
                      Activate version {v.version}
                    </ActionButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.canDelete &&
        (confirmDelete ? (
          <div class="card inset" role="alertdialog" aria-labelledby="del-flow">
            <h3 id="del-flow">Delete flow {props.name} and all its versions?</h3>
            <p>Calls routed to it are refused from then on; calls in it now finish.</p>
            <div class="row-actions">
              <ActionButton
                class="danger"
                onError={setError}
                onAction={async () => {
                  await api('DELETE', `/api/flows/${encodeURIComponent(props.name)}`);
                  props.onChanged();
                  go('flows');
                }}
              >
                Delete
              </ActionButton>
              <button type="button" onClick={() => setConfirmDelete(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
            Delete this flow
          </button>
        ))}
    </Section>
  );
}

export function FlowsPage({ me, params }: PageProps) {
  const list = useLoad(() =>
    api<{ flows: FlowSummary[] }>('GET', '/api/flows').then((r) => r.flows),
  );
  const selected = params.get('name') ?? undefined;
  const [saves, setSaves] = useState(0);
  return (
    <>
      <PageTitle>IVR flows</PageTitle>
      <ErrorBox error={list.error} />
      <Section title="Flows">
        {list.value && list.value.length === 0 && <p class="muted">No flows yet.</p>}
        {list.value && list.value.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Flow</th>
                  <th scope="col">Active version</th>
                  <th scope="col">Saved</th>
                  <th scope="col">By</th>
                  <th scope="col">Description</th>
                </tr>
              </thead>
              <tbody>
                {list.value.map((f) => (
                  <tr key={f.name} class={f.name === selected ? 'selected' : ''}>
                    <th scope="row">
                      <a
                        href={`#/flows?name=${encodeURIComponent(f.name)}`}
                        {...(f.name === selected ? { 'aria-current': 'true' as const } : {})}
                      >
                        {f.name}
                      </a>
                    </th>
                    <td>
                      {f.version} of {f.versions}
                    </td>
                    <td>{when(f.updatedAt)}</td>
                    <td>{f.author}</td>
                    <td>{f.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      {selected && (
        <FlowDetail
          key={`${selected}-${saves}`}
          name={selected}
          canEdit={roleAtLeast(me.role, 'installer')}
          canDelete={me.role === 'admin'}
          onChanged={list.reload}
        />
      )}
      {roleAtLeast(me.role, 'installer') && (
        <Upload
          onSaved={(name) => {
            list.reload();
            setSaves((n) => n + 1);
            go('flows', { name });
          }}
        />
      )}
    </>
  );
}
