// SPDX-License-Identifier: GPL-2.0-or-later
// Editing sections of the running configuration: forms, checks as you type, a diff to review, apply, revisions.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query } from './api.ts';
import { fieldId, getAt, type Schema, schemaAt, setAt } from './schema.ts';
import { blank, type FormContext, SchemaField } from './schema-form.tsx';
import type { ConfigChange, FieldError, RevisionInfo, SwitchConfig } from './types.ts';
import { ActionButton, ErrorBox, Field, Notice, Section, useLoad, when } from './ui.tsx';

export interface ConfigSchemas {
  config: Schema;
  trunks: Record<string, Schema>;
}

export interface Running {
  revision: number | null;
  config: SwitchConfig;
}

/** Which trunk schema a signalling takes (GET /api/config/schema `trunks`). */
export function trunkKind(signalling: unknown): string | undefined {
  if (signalling === 'pri_net' || signalling === 'pri_cpe') return 'pri';
  if (signalling === 'ss7') return 'ss7';
  if (signalling === 'mfcr2') return 'mfcr2';
  if (typeof signalling === 'string' && /^fx[os]_[kl]s$/.test(signalling)) return 'analog';
  return undefined;
}

/** Every signalling the trunk schemas name, for the one select that picks a trunk's kind. */
function allSignallings(trunks: Record<string, Schema>): string[] {
  const out: string[] = [];
  for (const s of Object.values(trunks)) {
    const sig = s.properties?.signalling;
    if (!sig) continue;
    if (sig.const !== undefined) out.push(String(sig.const));
    for (const a of sig.anyOf ?? []) if (a.const !== undefined) out.push(String(a.const));
  }
  return out;
}

/** A trunk's schema with its signalling widened to every kind, so that the kind can change. */
function trunkSchema(schemas: ConfigSchemas, signalling: unknown): Schema {
  const base = schemas.trunks[trunkKind(signalling) ?? ''] ?? {
    type: 'object',
    properties: { name: { type: 'string' }, signalling: {} },
    required: ['name', 'signalling'],
  };
  return {
    ...base,
    properties: {
      ...base.properties,
      name: { type: 'string', description: 'the trunk name routes and groups use' },
      signalling: {
        anyOf: allSignallings(schemas.trunks).map((s) => ({ const: s })),
        description: base.properties?.signalling?.description ?? '',
      },
    },
  };
}

const OPS: Record<ConfigChange['op'], string> = {
  add: 'added',
  remove: 'removed',
  change: 'changed',
  reorder: 'reordered',
};

function show(v: unknown): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

/** The changes a configuration makes, as a list an installer reads before applying it. */
export function ChangeList({ changes }: { changes: ConfigChange[] }) {
  if (changes.length === 0) return <p class="muted">No changes.</p>;
  return (
    <ul class="changes">
      {changes.map((c) => (
        <li key={c.path + c.op} class={`change ${c.op}`}>
          <code>{c.path}</code> {OPS[c.op]}
          {c.op === 'change' && (
            <>
              : <del>{show(c.before)}</del> → <ins>{show(c.after)}</ins>
            </>
          )}
          {c.op === 'add' && (
            <>
              : <ins>{show(c.after)}</ins>
            </>
          )}
          {c.op === 'remove' && (
            <>
              : <del>{show(c.before)}</del>
            </>
          )}
          {c.op === 'reorder' && (
            <>
              : {show(c.before)} → {show(c.after)}
            </>
          )}
        </li>
      ))}
    </ul>
  );
}

type Validation =
  | { state: 'idle' }
  | { state: 'checking' }
  | { state: 'ok'; changes: ConfigChange[] }
  | { state: 'refused'; errors: FieldError[] };

/**
 * Forms for `sections` of the configuration (paths such as `spans` or `routes.inbound`). Every
 * edit is checked by the switch (POST /api/config/validate) a moment after typing stops, and
 * the answer lands beside the fields; once it passes, the changes it would make are shown for
 * review, and Apply commits it as a new revision (PUT /api/config with the base revision, so
 * that two installers cannot overwrite each other's change unseen).
 */
export function ConfigEditor(props: {
  sections: {
    path: string;
    label: string;
    tools?: (add: (v: unknown) => void, draft: SwitchConfig) => ComponentChildren;
  }[];
  canEdit: boolean;
  onApplied?: () => void;
}) {
  const loaded = useLoad(async () => {
    const [running, schemas] = await Promise.all([
      api<Running>('GET', '/api/config'),
      api<ConfigSchemas>('GET', '/api/config/schema'),
    ]);
    return { running, schemas };
  });
  const [draft, setDraft] = useState<SwitchConfig | undefined>();
  const [validation, setValidation] = useState<Validation>({ state: 'idle' });
  const [reviewing, setReviewing] = useState(false);
  const [comment, setComment] = useState('');
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const seq = useRef(0);
  const [revisionsKey, setRevisionsKey] = useState(0);

  useEffect(() => {
    if (loaded.value) {
      setDraft(structuredClone(loaded.value.running.config));
      setValidation({ state: 'idle' });
    }
  }, [loaded.value]);

  // Each edit is checked once typing pauses; an answer to an older edit is dropped.
  useEffect(() => {
    if (!draft || !loaded.value || !props.canEdit) return;
    if (JSON.stringify(draft) === JSON.stringify(loaded.value.running.config)) {
      setValidation({ state: 'idle' });
      return;
    }
    const mine = ++seq.current;
    setValidation({ state: 'checking' });
    const t = setTimeout(async () => {
      try {
        const r = await api<{ ok: boolean; changes?: ConfigChange[]; errors?: FieldError[] }>(
          'POST',
          '/api/config/validate',
          draft,
        );
        if (mine !== seq.current) return;
        setValidation(
          r.ok
            ? { state: 'ok', changes: r.changes ?? [] }
            : { state: 'refused', errors: r.errors ?? [] },
        );
      } catch (err) {
        if (mine !== seq.current) return;
        setValidation({ state: 'idle' });
        setError(err);
      }
    }, 350);
    return () => clearTimeout(t);
  }, [draft, loaded.value, props.canEdit]);

  if (loaded.error) return <ErrorBox error={loaded.error} />;
  if (!loaded.value || !draft) return <p aria-busy="true">Loading the configuration...</p>;
  const { running, schemas } = loaded.value;
  const errors = validation.state === 'refused' ? validation.errors : [];

  const ctx: FormContext = {
    errors,
    disabled: !props.canEdit,
    onChange: (path, value) => {
      setDone('');
      setReviewing(false);
      setDraft((d) => {
        let next = setAt(d, path, value) as SwitchConfig;
        // A trunk that changes kind (PRI to SS7...) starts again from that kind's fields.
        const sig = /^trunks\[(\d+)\]\.signalling$/.exec(path);
        if (sig) {
          const before = getAt(d, path);
          if (trunkKind(before) !== trunkKind(value)) {
            const old = getAt(d, `trunks[${sig[1]}]`) as Record<string, unknown>;
            const fresh = blank(trunkSchema(schemas, value)) as Record<string, unknown>;
            next = setAt(d, `trunks[${sig[1]}]`, {
              ...fresh,
              name: old.name,
              signalling: value,
              ...(old.span === undefined ? {} : { span: old.span }),
            }) as SwitchConfig;
          }
        }
        return next;
      });
    },
    resolve: (schema, path, value) =>
      /^trunks\[\d+\]$/.test(path)
        ? trunkSchema(schemas, (value as { signalling?: unknown } | undefined)?.signalling)
        : schema,
  };

  const changed = JSON.stringify(draft) !== JSON.stringify(running.config);
  const apply = async () => {
    setError(undefined);
    const r = await api<{
      revision: RevisionInfo;
      restarted: string[];
      unchanged?: boolean;
    }>(
      'PUT',
      `/api/config${query({ base: running.revision ?? undefined, comment: comment || undefined })}`,
      draft,
    );
    setDone(
      r.unchanged
        ? 'Nothing to apply: the switch runs this configuration already.'
        : `Revision ${r.revision.id} applied${r.restarted.length > 0 ? `; restarted ${r.restarted.join(', ')}` : ''}.`,
    );
    setReviewing(false);
    setComment('');
    loaded.reload();
    setRevisionsKey((k) => k + 1);
    props.onApplied?.();
  };

  return (
    <>
      <p class="muted">
        Running revision: <strong>{running.revision ?? 'none yet'}</strong>
      </p>
      <Notice>{done}</Notice>
      <ErrorBox error={error} />
      {errors.length > 0 && (
        <div class="error-box" role="alert" aria-labelledby="cfg-errors-title">
          <p id="cfg-errors-title">
            <strong>The switch refuses this configuration</strong> ({errors.length} problem
            {errors.length === 1 ? '' : 's'}):
          </p>
          <ul>
            {errors.map((e) => (
              <li key={e.path + e.message}>
                <button
                  type="button"
                  class="link"
                  onClick={() => document.getElementById(fieldId(e.path))?.focus()}
                >
                  {e.path}
                </button>
                : {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <form
        class="config-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (validation.state === 'ok') setReviewing(true);
        }}
      >
        <fieldset disabled={!props.canEdit} class="plain">
          {props.sections.map((s) => {
            const schema = schemaAt(schemas.config, s.path, draft);
            if (!schema) return null;
            const add = (v: unknown) => {
              const list = (getAt(draft, s.path) as unknown[] | undefined) ?? [];
              ctx.onChange(s.path, [...list, v]);
            };
            return (
              <Section key={s.path} title={s.label}>
                {props.canEdit && s.tools?.(add, draft)}
                <SchemaField
                  schema={schema}
                  value={getAt(draft, s.path)}
                  path={s.path}
                  label={s.path}
                  required={true}
                  ctx={ctx}
                  quietLegend={true}
                />
              </Section>
            );
          })}
        </fieldset>
        {props.canEdit && (
          <div class="apply-bar" aria-live="polite">
            <span class="check-state">
              {!changed
                ? 'No changes to apply.'
                : validation.state === 'checking'
                  ? 'Checking with the switch...'
                  : validation.state === 'refused'
                    ? `Refused: ${errors.length} problem${errors.length === 1 ? '' : 's'} to fix.`
                    : validation.state === 'ok'
                      ? `Checked: ${validation.changes.length} change${validation.changes.length === 1 ? '' : 's'}.`
                      : ''}
            </span>
            <button type="submit" class="primary" disabled={validation.state !== 'ok'}>
              Review changes
            </button>
            <button
              type="button"
              disabled={!changed}
              onClick={() => {
                setDraft(structuredClone(running.config));
                setReviewing(false);
              }}
            >
              Discard edits
            </button>
          </div>
        )}
      </form>
      {reviewing && validation.state === 'ok' && (
        <section class="card review" aria-labelledby="review-title">
          <h2 id="review-title" tabIndex={-1} ref={(el) => el?.focus()}>
            Changes to apply
          </h2>
          <ChangeList changes={validation.changes} />
          <Field label="Comment (kept with the revision)">
            {(a) => (
              <input
                {...a}
                value={comment}
                maxLength={500}
                onInput={(e) => setComment((e.currentTarget as HTMLInputElement).value)}
              />
            )}
          </Field>
          <div class="row-actions">
            <ActionButton class="primary" onAction={apply} onError={setError}>
              Apply to the switch
            </ActionButton>
            <button type="button" onClick={() => setReviewing(false)}>
              Back to editing
            </button>
          </div>
        </section>
      )}
      <Revisions
        key={revisionsKey}
        canEdit={props.canEdit}
        running={running.revision}
        onRolledBack={(message) => {
          setDone(message);
          loaded.reload();
          setRevisionsKey((k) => k + 1);
          props.onApplied?.();
        }}
      />
    </>
  );
}

/** Revisions, newest first, each with what it changed and a rollback. */
function Revisions(props: {
  canEdit: boolean;
  running: number | null;
  onRolledBack: (message: string) => void;
}) {
  const list = useLoad(() =>
    api<{ revisions: RevisionInfo[] }>('GET', '/api/config/revisions?limit=20'),
  );
  const [open, setOpen] = useState<number>();
  const [diff, setDiff] = useState<ConfigChange[]>();
  const [confirm, setConfirm] = useState<number>();
  const [error, setError] = useState<unknown>();
  return (
    <Section title="Revisions">
      <ErrorBox error={list.error ?? error} />
      <p>
        <a href="/api/config/export" download>
          Download the running configuration (YAML)
        </a>
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">How</th>
              <th scope="col">Comment</th>
              <th scope="col">Changes</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.value?.revisions ?? []).map((r) => (
              <tr key={r.id}>
                <th scope="row">
                  {r.id}
                  {r.id === props.running && <span class="badge ok">running</span>}
                </th>
                <td>{when(r.createdAt)}</td>
                <td>{r.author}</td>
                <td>
                  {r.source}
                  {r.restores !== undefined && r.restores !== null && ` (restores ${r.restores})`}
                </td>
                <td>{r.comment}</td>
                <td>{r.changes}</td>
                <td class="row-actions">
                  <ActionButton
                    aria-expanded={open === r.id}
                    onAction={async () => {
                      if (open === r.id) {
                        setOpen(undefined);
                        return;
                      }
                      const d = await api<{ changes: ConfigChange[] }>(
                        'GET',
                        `/api/config/diff?to=${r.id}`,
                      );
                      setDiff(d.changes);
                      setOpen(r.id);
                    }}
                    onError={setError}
                  >
                    {open === r.id ? 'Hide changes' : 'Show changes'}
                  </ActionButton>
                  {props.canEdit && r.id !== props.running && (
                    <button type="button" onClick={() => setConfirm(r.id)}>
                      Roll back to {r.id}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open !== undefined && diff && (
        <div class="card inset">
          <h3>What revision {open} changed</h3>
          <ChangeList changes={diff} />
        </div>
      )}
      {confirm !== undefined && (
        <div class="card inset" role="alertdialog" aria-labelledby="rb-title">
          <h3 id="rb-title">Roll back to revision {confirm}?</h3>
          <p>
            The switch is given revision {confirm}'s configuration again; it is kept as a new
            revision.
          </p>
          <div class="row-actions">
            <ActionButton
              class="primary"
              onError={setError}
              onAction={async () => {
                const r = await api<{ revision: RevisionInfo; restarted: string[] }>(
                  'POST',
                  '/api/config/rollback',
                  { revision: confirm, ...(props.running ? { base: props.running } : {}) },
                );
                setConfirm(undefined);
                props.onRolledBack(`Rolled back: revision ${r.revision.id} restores ${confirm}.`);
              }}
            >
              Roll back
            </ActionButton>
            <button type="button" onClick={() => setConfirm(undefined)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </Section>
  );
}
