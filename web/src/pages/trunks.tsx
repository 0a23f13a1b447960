// SPDX-License-Identifier: GPL-2.0-or-later
// Trunks: the spans' line settings and the trunks' signalling, checked as you type, applied with a diff.

import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { ConfigEditor } from '../config-editor.tsx';
import { type DahdiSpan, roleAtLeast, type SwitchConfig } from '../types.ts';
import { PageTitle, useLoad } from '../ui.tsx';

/** A span's usual line settings: E1 CCS/HDB3/CRC-4, T1 ESF/B8ZS, timing from the line. */
export function spanDefaults(s: DahdiSpan, priority: number): Record<string, unknown> {
  return s.type === 'T1'
    ? { span: s.span, type: 'T1', framing: 'esf', coding: 'b8zs', timing: priority }
    : { span: s.span, type: 'E1', framing: 'ccs', coding: 'hdb3', crc4: true, timing: priority };
}

/** A new trunk's fields: what each signalling cannot do without, with common values. */
export function trunkDefaults(
  name: string,
  signalling: string,
  span: number,
): Record<string, unknown> {
  switch (signalling) {
    case 'pri_net':
    case 'pri_cpe':
      return { name, signalling, span, switchtype: 'euroisdn' };
    case 'ss7':
      return {
        name,
        signalling,
        variant: 'itu',
        pointcode: 1,
        adjacentPointcode: 2,
        links: [{ span }],
        cics: [{ span, firstCic: 1 }],
      };
    case 'mfcr2':
      return { name, signalling, span, variant: 'itu' };
    default:
      return { name, signalling, span, ports: '1-4' };
  }
}

const SIGNALLINGS: [string, string][] = [
  ['pri_cpe', 'ISDN PRI, user side (pri_cpe)'],
  ['pri_net', 'ISDN PRI, network side (pri_net)'],
  ['ss7', 'SS7 ISUP (ss7)'],
  ['mfcr2', 'MFC-R2 / China No.1 (mfcr2)'],
  ['fxo_ks', 'analog FXS port, kewlstart (fxo_ks)'],
  ['fxo_ls', 'analog FXS port, loopstart (fxo_ls)'],
  ['fxs_ks', 'analog FXO port, kewlstart (fxs_ks)'],
  ['fxs_ls', 'analog FXO port, loopstart (fxs_ls)'],
];

function AddSpan(props: { board: DahdiSpan[]; draft: SwitchConfig; add: (v: unknown) => void }) {
  const used = new Set((props.draft.spans ?? []).map((s) => s.span));
  const free = props.board.filter((s) => (s.type === 'E1' || s.type === 'T1') && !used.has(s.span));
  const [pick, setPick] = useState('');
  if (free.length === 0) return <p class="muted">Every E1/T1 span of the board is configured.</p>;
  const chosen = free.find((s) => String(s.span) === pick) ?? free[0];
  return (
    <div class="inline-form">
      <label for="add-span">Span of the board</label>
      <select
        id="add-span"
        value={String(chosen?.span)}
        onChange={(e) => setPick((e.currentTarget as HTMLSelectElement).value)}
      >
        {free.map((s) => (
          <option key={s.span} value={String(s.span)}>
            {s.span}: {s.type} {s.name}
            {s.alarms.length > 0 ? ` (${s.alarms.join('+')})` : ''}
          </option>
        ))}
      </select>
      <button
        type="button"
        onClick={() =>
          chosen && props.add(spanDefaults(chosen, (props.draft.spans?.length ?? 0) + 1))
        }
      >
        Add span
      </button>
    </div>
  );
}

function AddTrunk(props: { board: DahdiSpan[]; draft: SwitchConfig; add: (v: unknown) => void }) {
  const [name, setName] = useState('');
  const [signalling, setSignalling] = useState('pri_cpe');
  const [span, setSpan] = useState('');
  const taken = new Set((props.draft.trunks ?? []).map((t) => t.name));
  const analog = /^fx/.test(signalling);
  const spans = props.board.filter((s) => (analog ? s.type === 'analog' : s.type !== 'analog'));
  const spanValue = spans.some((s) => String(s.span) === span)
    ? span
    : String(spans[0]?.span ?? '');
  const problem =
    name === ''
      ? ''
      : taken.has(name)
        ? 'a trunk has this name already'
        : /^[A-Za-z0-9_.-]{1,40}$/.test(name)
          ? ''
          : 'letters, digits, "_", "." or "-"';
  return (
    <div class="inline-form">
      <label for="add-trunk-name">Name</label>
      <input
        id="add-trunk-name"
        value={name}
        aria-invalid={problem !== ''}
        aria-describedby={problem ? 'add-trunk-problem' : undefined}
        onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
      />
      <label for="add-trunk-signalling">Signalling</label>
      <select
        id="add-trunk-signalling"
        value={signalling}
        onChange={(e) => setSignalling((e.currentTarget as HTMLSelectElement).value)}
      >
        {SIGNALLINGS.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
      <label for="add-trunk-span">Span</label>
      <select
        id="add-trunk-span"
        value={spanValue}
        onChange={(e) => setSpan((e.currentTarget as HTMLSelectElement).value)}
      >
        {spans.map((s) => (
          <option key={s.span} value={String(s.span)}>
            {s.span}: {s.type} {s.name}
          </option>
        ))}
      </select>
      <button
        type="button"
        disabled={name === '' || problem !== '' || spanValue === ''}
        onClick={() => {
          props.add(trunkDefaults(name, signalling, Number(spanValue)));
          setName('');
        }}
      >
        Add trunk
      </button>
      {problem && (
        <small id="add-trunk-problem" class="field-error">
          {problem}
        </small>
      )}
    </div>
  );
}

export function TrunksPage({ me }: PageProps) {
  const board = useLoad(() =>
    api<{ spans: DahdiSpan[] }>('GET', '/api/spans').then((r) => r.spans),
  );
  const spans = board.value ?? [];
  return (
    <>
      <PageTitle>Trunks</PageTitle>
      <p>
        Line settings of the E1/T1 spans and the signalling of each trunk. Changes are checked by
        the switch as you type; review them, then apply. The dashboard shows the result live.
      </p>
      <ConfigEditor
        canEdit={roleAtLeast(me.role, 'installer')}
        sections={[
          {
            path: 'spans',
            label: 'Spans',
            tools: (add, draft) => <AddSpan board={spans} draft={draft} add={add} />,
          },
          {
            path: 'trunks',
            label: 'Trunks',
            tools: (add, draft) => <AddTrunk board={spans} draft={draft} add={add} />,
          },
          { path: 'system', label: 'System' },
        ]}
      />
    </>
  );
}
