// SPDX-License-Identifier: GPL-2.0-or-later
// Forms built from the configuration's JSON Schema: one labelled control per field, errors beside them.

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  choices,
  errorsAt,
  fieldId,
  fromText,
  kindOf,
  pathJoin,
  type Schema,
  toText,
  variants,
} from './schema.ts';

export interface FormContext {
  errors: readonly { path: string; message: string }[];
  onChange: (path: string, value: unknown) => void;
  /** Replaces the schema of a path (trunks take theirs from their signalling). */
  resolve?: (schema: Schema, path: string, value: unknown) => Schema;
  disabled?: boolean;
}

/** A value to start a new list item with: required fields filled with their first choice. */
export function blank(s: Schema): unknown {
  const kind = kindOf(s);
  switch (kind) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of s.required ?? []) {
        const p = s.properties?.[key];
        if (p) out[key] = blank(p);
      }
      return out;
    }
    case 'variant':
      return blank((variants(s) ?? [])[0]?.schema ?? {});
    case 'enum':
      return s.const ?? choices(s)?.[0];
    case 'boolean':
      return false;
    case 'number':
      return s.default ?? s.minimum ?? 0;
    case 'enum-set':
    case 'objects':
    case 'text-list':
      return [];
    default:
      return kind === 'record' || kind === 'any' ? {} : '';
  }
}

/** What a list item is called in its legend: its name, span or number. */
function itemTitle(value: unknown, index: number): string {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    for (const k of ['name', 'span', 'number', 'date'])
      if (v[k] !== undefined && v[k] !== '') return `${String(v[k])}`;
  }
  return `#${index + 1}`;
}

/**
 * A text input that keeps what is being typed: the configuration holds the converted value
 * ("1-15,17-31", 2300, [1, 2]), and converting back on every keystroke would fight the typist.
 */
function TextInput(props: {
  id: string;
  schema: Schema;
  value: unknown;
  onValue: (v: unknown) => void;
  /** aria-*, min, max, inputMode... */
  attrs: Record<string, string | number | boolean>;
  type?: 'text' | 'number';
}) {
  const outside = toText(props.schema, props.value);
  const [text, setText] = useState(outside);
  useEffect(() => {
    if (fromTextEq(props.schema, text, props.value)) return;
    setText(outside);
  }, [outside]);
  return (
    <input
      {...props.attrs}
      id={props.id}
      type={(props.type ?? 'text') as 'text'}
      value={text}
      onInput={(e) => {
        const t = (e.currentTarget as HTMLInputElement).value;
        setText(t);
        props.onValue(fromText(props.schema, t));
      }}
    />
  );
}

function fromTextEq(s: Schema, text: string, value: unknown): boolean {
  return JSON.stringify(fromText(s, text)) === JSON.stringify(value);
}

function shortHint(s: Schema): string | undefined {
  const d = s.description ?? (s.mustBe ? `must be ${s.mustBe}` : undefined);
  if (!d) return undefined;
  return d.length > 240 ? `${d.slice(0, 237)}...` : d;
}

/** One field of any kind, labelled by `label`, at API path `path`. */
export function SchemaField(props: {
  schema: Schema;
  value: unknown;
  path: string;
  label: string;
  required: boolean;
  ctx: FormContext;
  /** The section's heading names it already: its legend is for screen readers only. */
  quietLegend?: boolean;
}): JSX.Element {
  const { ctx, path, label, required } = props;
  const legendClass = props.quietLegend ? 'sr-only' : undefined;
  const schema = ctx.resolve ? ctx.resolve(props.schema, path, props.value) : props.schema;
  const kind = kindOf(schema);
  const id = fieldId(path);
  const { here, below } = errorsAt(ctx.errors, path);
  const hint = shortHint(schema);
  const describedBy = [hint ? `${id}-hint` : '', here.length > 0 ? `${id}-err` : '']
    .filter(Boolean)
    .join(' ');
  const set = (v: unknown) => ctx.onChange(path, v);
  const aria = {
    ...(describedBy ? { 'aria-describedby': describedBy } : {}),
    ...(here.length > 0 ? { 'aria-invalid': true as const } : {}),
  };
  const hintEl = hint && (
    <small id={`${id}-hint`} class="hint">
      {hint}
    </small>
  );
  const errEl = here.length > 0 && (
    <small id={`${id}-err`} class="field-error">
      {here.join('; ')}
    </small>
  );
  const labelText = `${label}${required ? '' : ' (optional)'}`;

  if (kind === 'object' || kind === 'variant') {
    const v = (props.value ?? {}) as Record<string, unknown>;
    let shape = schema;
    let tagField: JSX.Element | null = null;
    const vs = variants(schema);
    if (vs) {
      const tag = typeof v.type === 'string' ? v.type : '';
      shape = vs.find((x) => x.tag === tag)?.schema ?? { type: 'object', properties: {} };
      tagField = (
        <div class="field">
          <label for={`${id}-type`}>type</label>
          <select
            id={`${id}-type`}
            value={tag}
            onChange={(e) => {
              const next = vs.find((x) => x.tag === (e.currentTarget as HTMLSelectElement).value);
              set(next ? blank(next.schema) : undefined);
            }}
          >
            {!vs.some((x) => x.tag === tag) && <option value="">choose</option>}
            {vs.map((x) => (
              <option key={x.tag} value={x.tag}>
                {x.tag}
              </option>
            ))}
          </select>
        </div>
      );
    }
    const present = props.value !== undefined;
    return (
      <fieldset
        class={`group${here.length > 0 ? ' has-error' : ''}${props.quietLegend ? ' plain' : ''}`}
        id={id}
      >
        <legend class={legendClass}>
          {labelText}
          {below > 0 && (
            <span class="badge bad">
              {below} problem{below === 1 ? '' : 's'}
            </span>
          )}
        </legend>
        {hintEl}
        {errEl}
        {!required && !present ? (
          <button type="button" onClick={() => set(blank(schema))}>
            Add {label}
          </button>
        ) : (
          <>
            {tagField}
            <div class="fields">
              {Object.entries(shape.properties ?? {}).map(([key, sub]) =>
                vs && key === 'type' ? null : (
                  <SchemaField
                    key={key}
                    schema={sub}
                    value={v[key]}
                    path={pathJoin(path, key)}
                    label={key}
                    required={(shape.required ?? []).includes(key)}
                    ctx={ctx}
                  />
                ),
              )}
            </div>
            {!required && (
              <button type="button" class="link" onClick={() => set(undefined)}>
                Remove {label}
              </button>
            )}
          </>
        )}
      </fieldset>
    );
  }

  if (kind === 'objects') {
    const list = Array.isArray(props.value) ? props.value : [];
    const item = schema.items ?? {};
    const move = (from: number, to: number) => {
      const next = [...list];
      const [x] = next.splice(from, 1);
      next.splice(to, 0, x);
      set(next);
    };
    return (
      <fieldset
        class={`list${here.length > 0 ? ' has-error' : ''}${props.quietLegend ? ' plain' : ''}`}
        id={id}
      >
        <legend class={legendClass}>{labelText}</legend>
        {hintEl}
        {errEl}
        {list.length === 0 && <p class="muted">None.</p>}
        {list.map((entry, i) => {
          const title = `${label} ${itemTitle(entry, i)}`;
          return (
            <div class="list-item" key={i}>
              <SchemaField
                schema={item}
                value={entry}
                path={pathJoin(path, i)}
                label={title}
                required={true}
                ctx={ctx}
              />
              <div class="row-actions">
                <button
                  type="button"
                  disabled={i === 0}
                  aria-label={`Move ${title} up`}
                  onClick={() => move(i, i - 1)}
                >
                  Up
                </button>
                <button
                  type="button"
                  disabled={i === list.length - 1}
                  aria-label={`Move ${title} down`}
                  onClick={() => move(i, i + 1)}
                >
                  Down
                </button>
                <button
                  type="button"
                  class="danger"
                  aria-label={`Remove ${title}`}
                  onClick={() => set(list.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </div>
            </div>
          );
        })}
        <button type="button" onClick={() => set([...list, blank(item)])}>
          Add to {label}
        </button>
      </fieldset>
    );
  }

  if (kind === 'enum-set') {
    const options = choices(schema.items ?? {}) ?? [];
    const list = Array.isArray(props.value) ? props.value : [];
    return (
      <fieldset class={`checks${here.length > 0 ? ' has-error' : ''}`} id={id} {...aria}>
        <legend>{labelText}</legend>
        {options.map((o) => (
          <label key={String(o)} class="check">
            <input
              type="checkbox"
              checked={list.includes(o)}
              onChange={(e) => {
                const on = (e.currentTarget as HTMLInputElement).checked;
                const next = options.filter((x) => (x === o ? on : list.includes(x)));
                set(next.length === 0 && !required ? undefined : next);
              }}
            />
            {String(o)}
          </label>
        ))}
        {hintEl}
        {errEl}
      </fieldset>
    );
  }

  let control: JSX.Element;
  if (kind === 'enum') {
    const options = schema.const !== undefined ? [schema.const] : (choices(schema) ?? []);
    const current = props.value === undefined ? '' : String(props.value);
    control = (
      <select
        id={id}
        {...aria}
        value={current}
        onChange={(e) => {
          const raw = (e.currentTarget as HTMLSelectElement).value;
          set(raw === '' ? undefined : options.find((o) => String(o) === raw));
        }}
      >
        {(!required || !options.some((o) => String(o) === current)) && (
          <option value="">{required ? 'choose' : 'default'}</option>
        )}
        {options.map((o) => (
          <option key={String(o)} value={String(o)}>
            {String(o)}
          </option>
        ))}
      </select>
    );
  } else if (kind === 'boolean') {
    if (required)
      return (
        <div class={`field check-field${here.length > 0 ? ' has-error' : ''}`}>
          <label class="check">
            <input
              id={id}
              type="checkbox"
              {...aria}
              checked={props.value === true}
              onChange={(e) => set((e.currentTarget as HTMLInputElement).checked)}
            />
            {label}
          </label>
          {hintEl}
          {errEl}
        </div>
      );
    control = (
      <select
        id={id}
        {...aria}
        value={props.value === undefined ? '' : String(props.value)}
        onChange={(e) => {
          const raw = (e.currentTarget as HTMLSelectElement).value;
          set(raw === '' ? undefined : raw === 'true');
        }}
      >
        <option value="">default</option>
        <option value="true">yes</option>
        <option value="false">no</option>
      </select>
    );
  } else {
    control = (
      <TextInput
        id={id}
        schema={schema}
        value={props.value}
        onValue={set}
        type={kind === 'number' ? 'number' : 'text'}
        attrs={{
          ...aria,
          ...(kind === 'number'
            ? {
                inputMode: 'numeric',
                ...(schema.minimum !== undefined ? { min: schema.minimum } : {}),
                ...(schema.maximum !== undefined ? { max: schema.maximum } : {}),
              }
            : {}),
          ...(required ? { 'aria-required': true } : {}),
          autoComplete: 'off',
          spellcheck: false,
        }}
      />
    );
  }
  return (
    <div class={`field${here.length > 0 ? ' has-error' : ''}`}>
      <label for={id}>{labelText}</label>
      {control}
      {hintEl}
      {errEl}
    </div>
  );
}
