// SPDX-License-Identifier: GPL-2.0-or-later
// Small shared pieces: page heading that takes focus, error box, labelled fields, dates, busy buttons.

import type { ButtonHTMLAttributes, ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, fieldErrors } from './api.ts';

/** The page's h1; it takes focus when the page opens, so a screen reader announces the page. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1} class="page-title">
      {children}
    </h1>
  );
}

/** An API failure in words: the message, the code, every field error. */
export function ErrorBox({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const fields = fieldErrors(error);
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div class="error-box" role="alert">
      <p>
        <strong>{error instanceof ApiError ? error.code : 'Error'}</strong>: {message}
      </p>
      {fields.length > 1 && (
        <ul>
          {fields.map((f) => (
            <li key={f.path + f.message}>
              <code>{f.path}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A short confirmation that something worked; announced politely. */
export function Notice({ children }: { children: ComponentChildren }) {
  if (children === undefined || children === null || children === '') return null;
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}

let fieldSeq = 0;
/** A stable id for a label/input pair. */
export function useFieldId(prefix = 'f'): string {
  const ref = useRef<string | undefined>(undefined);
  if (ref.current === undefined) ref.current = `${prefix}-${++fieldSeq}`;
  return ref.current;
}

/** A labelled input with an optional hint and error, wired with aria-describedby. */
export function Field(props: {
  label: string;
  hint?: string;
  error?: string;
  children: (attrs: {
    id: string;
    'aria-describedby'?: string;
    'aria-invalid'?: boolean;
  }) => JSX.Element;
}) {
  const id = useFieldId();
  const described = [props.hint ? `${id}-hint` : '', props.error ? `${id}-err` : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div class={`field${props.error ? ' has-error' : ''}`}>
      <label for={id}>{props.label}</label>
      {props.children({
        id,
        ...(described ? { 'aria-describedby': described } : {}),
        ...(props.error ? { 'aria-invalid': true } : {}),
      })}
      {props.hint && (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <small id={`${id}-err`} class="field-error">
          {props.error}
        </small>
      )}
    </div>
  );
}

/** A labelled text input bound to a string: Field's common case. */
export function TextField(props: {
  label: string;
  hint?: string;
  error?: string;
  value: string;
  onValue: (value: string) => void;
  type?: 'text' | 'password' | 'number' | 'time' | 'tel';
  name?: string;
  autoComplete?: string;
  inputMode?: 'text' | 'tel' | 'numeric' | 'decimal';
  required?: boolean;
  minLength?: number;
  min?: number;
  max?: number;
  pattern?: string;
  placeholder?: string;
  disabled?: boolean;
}) {
  const { label, hint, error, value, onValue, type, ...input } = props;
  return (
    <Field
      label={label}
      {...(hint === undefined ? {} : { hint })}
      {...(error === undefined ? {} : { error })}
    >
      {(a) => {
        // Preact types <input> as one union member per `type`; this component's `type` is a
        // union of text-like kinds, all of which take these attributes.
        const attrs = {
          ...input,
          ...a,
          type: type ?? 'text',
          value,
          onInput: (e: Event) => onValue((e.currentTarget as HTMLInputElement).value),
        } as JSX.IntrinsicElements['input'];
        return <input {...attrs} />;
      }}
    </Field>
  );
}

/** A labelled select of plain string choices, each shown as itself. */
export function SelectField<T extends string>(props: {
  label: string;
  hint?: string;
  value: T;
  onValue: (value: T) => void;
  options: readonly T[];
}) {
  return (
    <Field label={props.label} {...(props.hint === undefined ? {} : { hint: props.hint })}>
      {(a) => (
        <select
          {...a}
          value={props.value}
          onChange={(e) => props.onValue((e.currentTarget as HTMLSelectElement).value as T)}
        >
          {props.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** A button that runs an async action, disabled while it runs. */
export function ActionButton(
  props: {
    onAction: () => Promise<unknown>;
    children: ComponentChildren;
    onError?: (err: unknown) => void;
  } & Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'onClick'>,
) {
  const { onAction, onError, children, ...rest } = props;
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      {...rest}
      // Not `disabled` while busy: a focused button that is disabled loses the keyboard focus.
      aria-disabled={busy}
      aria-busy={busy}
      onClick={async () => {
        if (busy) return;
        setBusy(true);
        try {
          await onAction();
        } catch (err) {
          onError?.(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      {children}
    </button>
  );
}

/** Loads once (and again when `deps` change); gives the value, the error and a reload. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[] = [],
): { value: T | undefined; error: unknown; reload: () => void; loading: boolean } {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    let alive = true;
    setLoading(true);
    load().then(
      (v) => {
        if (!alive) return;
        setValue(v);
        setError(undefined);
        setLoading(false);
      },
      (err) => {
        if (!alive) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => {
      alive = false;
    };
  }, [n, ...deps]);
  return { value, error, loading, reload: () => setN((x) => x + 1) };
}

/** Runs `fn` every `ms` while the component is shown and the page is visible. */
export function useInterval(fn: () => void, ms: number): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') saved.current();
    }, ms);
    return () => clearInterval(t);
  }, [ms]);
}

/** `2026-05-01 14:03:09` in the viewer's time. */
export function when(iso: string | number | undefined): string {
  if (iso === undefined || iso === '') return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `1 h 02 min`, `35 s`, `820 ms`. */
export function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** `1.5 GB` */
export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** A section with a heading of its own level; `id` makes it a link target. */
export function Section(props: { title: string; id?: string; children: ComponentChildren }) {
  const hid = useFieldId('h');
  return (
    <section class="card" aria-labelledby={hid} id={props.id}>
      <h2 id={hid}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** A file chooser with a visible label. */
export function FileField(props: {
  label: string;
  accept?: string;
  hint?: string;
  onFile: (f: File | undefined) => void;
}) {
  return (
    <Field label={props.label} {...(props.hint ? { hint: props.hint } : {})}>
      {(a) => (
        <input
          {...a}
          type="file"
          accept={props.accept}
          onChange={(e) => props.onFile((e.currentTarget as HTMLInputElement).files?.[0])}
        />
      )}
    </Field>
  );
}
