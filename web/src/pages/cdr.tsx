// SPDX-License-Identifier: GPL-2.0-or-later
// Call records: filters, pages of records, one record in full, and the same filters as a CSV export.

import { useState } from 'preact/hooks';
import { api, query } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { useLive } from '../live.ts';
import type { CallRecord } from '../types.ts';
import { duration, ErrorBox, Field, PageTitle, Section, useLoad, when } from '../ui.tsx';

const DIRECTIONS = ['inbound', 'outbound', 'internal'];
const DISPOSITIONS = [
  'answered',
  'busy',
  'no_answer',
  'rejected',
  'congestion',
  'failed',
  'cancelled',
  'blocked',
  'no_route',
];
const PAGE = 50;

interface Filter {
  from: string;
  to: string;
  trunk: string;
  number: string;
  direction: string;
  disposition: string;
  cause: string;
  route: string;
}

const EMPTY: Filter = {
  from: '',
  to: '',
  trunk: '',
  number: '',
  direction: '',
  disposition: '',
  cause: '',
  route: '',
};

/** A datetime-local value (the viewer's time) as ISO time with the viewer's offset. */
export function localToIso(v: string): string | undefined {
  if (v === '') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

function params(f: Filter): Record<string, string | undefined> {
  return {
    from: localToIso(f.from),
    to: localToIso(f.to),
    trunk: f.trunk || undefined,
    number: f.number || undefined,
    direction: f.direction || undefined,
    disposition: f.disposition || undefined,
    cause: f.cause || undefined,
    route: f.route || undefined,
  };
}

function Record_({ id }: { id: string }) {
  const rec = useLoad(
    () => api<CallRecord & Record<string, unknown>>('GET', `/api/cdr/${encodeURIComponent(id)}`),
    [id],
  );
  return (
    <Section title={`Call record ${id}`} id="cdr-record">
      <ErrorBox error={rec.error} />
      {rec.value && (
        <>
          <dl class="facts wide">
            <dt>Direction</dt>
            <dd>{rec.value.direction}</dd>
            <dt>Called / calling</dt>
            <dd>
              {rec.value.called} / {rec.value.calling || '–'}
            </dd>
            <dt>Started</dt>
            <dd>{when(rec.value.startedAt)}</dd>
            <dt>Answered</dt>
            <dd>{when(rec.value.answeredAt) || 'no'}</dd>
            <dt>Ended</dt>
            <dd>{when(rec.value.endedAt)}</dd>
            <dt>Result</dt>
            <dd data-testid="cdr-result">
              {rec.value.disposition}, cause {rec.value.cause} {rec.value.causeName}
            </dd>
            <dt>Duration (answered)</dt>
            <dd>
              {duration(rec.value.durationMs)} ({duration(rec.value.billableMs)})
            </dd>
            <dt>Route</dt>
            <dd>
              {rec.value.route ?? '–'} {rec.value.destination ? `→ ${rec.value.destination}` : ''}
            </dd>
          </dl>
          <details>
            <summary>Everything recorded (legs, tries, skipped trunks)</summary>
            <pre class="json">{JSON.stringify(rec.value, null, 2)}</pre>
          </details>
        </>
      )}
    </Section>
  );
}

export function CdrPage({ params: route }: PageProps) {
  const [form, setForm] = useState<Filter>(EMPTY);
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const [offset, setOffset] = useState(0);
  const view = useLive();
  // A call that ends while the page is open shows up without a reload.
  const ends = view.callEvents.filter((e) => e.event === 'end').length;
  const page = useLoad(
    () =>
      api<{ total: number; records: CallRecord[] }>(
        'GET',
        `/api/cdr${query({ ...params(filter), limit: PAGE, offset })}`,
      ),
    [filter, offset, ends],
  );
  const selected = route.get('id') ?? undefined;
  const set = (k: keyof Filter) => (e: Event) =>
    setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  const total = page.value?.total ?? 0;
  return (
    <>
      <PageTitle>Call records</PageTitle>
      {selected && <Record_ id={selected} />}
      <Section title="Filter">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setOffset(0);
            setFilter(form);
          }}
        >
          <div class="fields">
            <Field label="Started from">
              {(a) => (
                <input {...a} type="datetime-local" value={form.from} onInput={set('from')} />
              )}
            </Field>
            <Field label="Started before">
              {(a) => <input {...a} type="datetime-local" value={form.to} onInput={set('to')} />}
            </Field>
            <Field label="Number contains">
              {(a) => <input {...a} inputMode="tel" value={form.number} onInput={set('number')} />}
            </Field>
            <Field label="Trunk">
              {(a) => <input {...a} value={form.trunk} onInput={set('trunk')} />}
            </Field>
            <Field label="Direction">
              {(a) => (
                <select {...a} value={form.direction} onChange={set('direction')}>
                  <option value="">any</option>
                  {DIRECTIONS.map((d) => (
                    <option key={d}>{d}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Result">
              {(a) => (
                <select {...a} value={form.disposition} onChange={set('disposition')}>
                  <option value="">any</option>
                  {DISPOSITIONS.map((d) => (
                    <option key={d}>{d}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Cause (Q.850)">
              {(a) => (
                <input
                  {...a}
                  type="number"
                  min={0}
                  max={127}
                  value={form.cause}
                  onInput={set('cause')}
                />
              )}
            </Field>
            <Field label="Route">
              {(a) => <input {...a} value={form.route} onInput={set('route')} />}
            </Field>
          </div>
          <div class="row-actions">
            <button type="submit" class="primary">
              Show records
            </button>
            <button
              type="button"
              onClick={() => {
                setForm(EMPTY);
                setFilter(EMPTY);
                setOffset(0);
              }}
            >
              Clear
            </button>
            <a class="button" href={`/api/cdr.csv${query(params(filter))}`} download>
              Export these as CSV
            </a>
          </div>
        </form>
      </Section>
      <Section title="Records">
        <ErrorBox error={page.error} />
        <p aria-live="polite" data-testid="cdr-total">
          {total} record{total === 1 ? '' : 's'}
          {total > 0 ? `, ${offset + 1}-${Math.min(total, offset + PAGE)} shown, newest first` : ''}
        </p>
        <div class="table-wrap">
          <table class="cdr">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Direction</th>
                <th scope="col">Called</th>
                <th scope="col">Calling</th>
                <th scope="col">Trunk · span/ts</th>
                <th scope="col">Result</th>
                <th scope="col">Cause</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {(page.value?.records ?? []).map((r) => (
                <tr key={r.id} data-call={r.id} class={r.id === selected ? 'selected' : ''}>
                  <td>
                    <a
                      href={`#/cdr?id=${encodeURIComponent(r.id)}`}
                      aria-label={`Call ${r.id} at ${when(r.startedAt)}`}
                    >
                      {when(r.startedAt)}
                    </a>
                  </td>
                  <td>{r.direction}</td>
                  <td>{r.called}</td>
                  <td>{r.calling}</td>
                  <td>
                    {r.a.trunk}
                    {r.a.span !== undefined ? ` · ${r.a.span}/${r.a.channel ?? '–'}` : ''}
                  </td>
                  <td>{r.disposition}</td>
                  <td>
                    {r.cause} {r.causeName}
                  </td>
                  <td>{duration(r.durationMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="row-actions">
          <button
            type="button"
            disabled={offset === 0}
            onClick={() => setOffset(Math.max(0, offset - PAGE))}
          >
            Newer
          </button>
          <button
            type="button"
            disabled={offset + PAGE >= total}
            onClick={() => setOffset(offset + PAGE)}
          >
            Older
          </button>
        </div>
      </Section>
    </>
  );
}
