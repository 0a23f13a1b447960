// SPDX-License-Identifier: GPL-2.0-or-later
// Dashboard: every span with alarms, counters and signalling links, and a live grid of its timeslots.

import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { useLive } from '../live.ts';
import {
  CHANNEL_STATES,
  type ChannelStatus,
  type Me,
  roleAtLeast,
  type SpanStatus,
  type SwitchConfig,
} from '../types.ts';
import { ActionButton, ErrorBox, Notice, PageTitle, useLoad } from '../ui.tsx';

/** The letter each state shows besides its colour (the grid is readable without colour). */
export const STATE_MARK: Record<string, string> = {
  idle: 'I',
  seized: 'S',
  ringing: 'R',
  talking: 'T',
  blocked: 'B',
  alarm: 'A',
  reset: 'X',
  unconfigured: '–',
  signalling: 'D',
};

const COUNTERS: Record<string, string> = {
  bpv: 'bipolar violations',
  crc4: 'CRC-4 errors',
  ebit: 'E-bit (far-end CRC) errors',
  fas: 'frame alignment errors',
  fe: 'framing errors',
  cv: 'code violations',
  be: 'bit errors',
  errsec: 'errored seconds',
};

const LINK_KIND: Record<string, string> = {
  dchannel: 'D-channel',
  mtp2: 'SS7 link (MTP2)',
};

/** Timeslots that carry signalling rather than calls, from the configuration: `span:ts` -> what. */
export function signallingSlots(config: SwitchConfig, spans: SpanStatus[]): Map<string, string> {
  const out = new Map<string, string>();
  const typeOf = (span: number) => spans.find((s) => s.span === span)?.type;
  const dflt = (span: number) => (typeOf(span) === 'T1' ? 24 : 16);
  for (const t of config.trunks ?? []) {
    const span = typeof t.span === 'number' ? t.span : undefined;
    if ((t.signalling === 'pri_net' || t.signalling === 'pri_cpe') && span !== undefined)
      out.set(`${span}:${typeof t.dchannel === 'number' ? t.dchannel : dflt(span)}`, 'D-channel');
    if (t.signalling === 'mfcr2' && span !== undefined)
      out.set(`${span}:16`, 'CAS signalling (ABCD bits)');
    if (t.signalling === 'ss7' && Array.isArray(t.links))
      for (const l of t.links as { span: number; timeslot?: number }[])
        out.set(`${l.span}:${l.timeslot ?? dflt(l.span)}`, 'SS7 signalling link');
  }
  return out;
}

function stateOf(ch: ChannelStatus, slots: Map<string, string>): string {
  return ch.state === 'unconfigured' && slots.has(`${ch.span}:${ch.channel}`)
    ? 'signalling'
    : ch.state;
}

function describe(ch: ChannelStatus, slots: Map<string, string>): string {
  const st = stateOf(ch, slots);
  const what = st === 'signalling' ? (slots.get(`${ch.span}:${ch.channel}`) as string) : st;
  return `Timeslot ${ch.channel}: ${what}${ch.trunk ? `, trunk ${ch.trunk}` : ''}${ch.cic !== undefined ? `, CIC ${ch.cic}` : ''}`;
}

export function Legend() {
  return (
    <section class="legend" aria-labelledby="legend-title">
      <h2 id="legend-title" class="small-heading">
        Timeslot states
      </h2>
      <ul>
        {[...CHANNEL_STATES, 'signalling'].map((s) => (
          <li key={s}>
            <span class={`cell mini st-${s}`} aria-hidden="true">
              {STATE_MARK[s]}
            </span>
            {s === 'signalling' ? 'signalling (D-channel, SS7 link, CAS)' : s}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The cell below (or above) `from` in the wrapped grid, by where the cells are drawn. */
function verticalNeighbour(cells: HTMLElement[], from: number, down: boolean): number {
  const cur = cells[from];
  if (!cur) return from;
  const step = down ? 1 : -1;
  for (let i = from + step; i >= 0 && i < cells.length; i += step) {
    const c = cells[i] as HTMLElement;
    const otherRow = down ? c.offsetTop > cur.offsetTop : c.offsetTop < cur.offsetTop;
    if (otherRow && Math.abs(c.offsetLeft - cur.offsetLeft) < c.offsetWidth / 2) return i;
  }
  return from;
}

function ChannelGrid(props: {
  span: SpanStatus;
  channels: ChannelStatus[];
  slots: Map<string, string>;
  selected: number | undefined;
  onSelect: (channel: number) => void;
}) {
  const [focus, setFocus] = useState(0);
  const ref = useRef<HTMLFieldSetElement>(null);
  const cells = () => [...(ref.current?.querySelectorAll<HTMLElement>('button.cell') ?? [])];
  const move = (to: number) => {
    const list = cells();
    const i = Math.max(0, Math.min(list.length - 1, to));
    setFocus(i);
    list[i]?.focus();
  };
  return (
    <fieldset
      ref={ref}
      class="grid"
      onKeyDown={(e) => {
        const list = cells();
        const i = list.indexOf(document.activeElement as HTMLElement);
        if (i < 0) return;
        const key = e.key;
        let to: number | undefined;
        if (key === 'ArrowRight') to = i + 1;
        else if (key === 'ArrowLeft') to = i - 1;
        else if (key === 'ArrowDown') to = verticalNeighbour(list, i, true);
        else if (key === 'ArrowUp') to = verticalNeighbour(list, i, false);
        else if (key === 'Home') to = 0;
        else if (key === 'End') to = list.length - 1;
        if (to === undefined) return;
        e.preventDefault();
        move(to);
      }}
    >
      <legend class="sr-only">
        Span {props.span.span} timeslots (arrow keys move, Enter opens one)
      </legend>
      {props.channels.map((ch, i) => {
        const st = stateOf(ch, props.slots);
        const label = describe(ch, props.slots);
        return (
          <button
            type="button"
            key={ch.channel}
            class={`cell st-${st}${props.selected === ch.channel ? ' selected' : ''}`}
            tabIndex={i === Math.min(focus, props.channels.length - 1) ? 0 : -1}
            aria-label={label}
            aria-pressed={props.selected === ch.channel}
            title={label}
            data-ts={ch.channel}
            data-state={st}
            onFocus={() => setFocus(i)}
            onClick={() => props.onSelect(ch.channel)}
          >
            <span class="ts">{ch.channel}</span>
            <span class="mark" aria-hidden="true">
              {STATE_MARK[st]}
            </span>
          </button>
        );
      })}
    </fieldset>
  );
}

function ChannelPanel(props: {
  me: Me;
  ch: ChannelStatus;
  slots: Map<string, string>;
  onClose: () => void;
}) {
  const { ch, me } = props;
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [ch.span, ch.channel]);
  const st = stateOf(ch, props.slots);
  const op = (what: 'block' | 'unblock' | 'reset') => async () => {
    setError(undefined);
    await api('POST', `/api/trunks/${encodeURIComponent(ch.trunk ?? '')}/${what}`, {
      channel: ch.channel,
    });
    setDone(`${what} sent for timeslot ${ch.channel}`);
  };
  return (
    <section
      class="channel-panel"
      aria-labelledby={`cp-${ch.span}-${ch.channel}`}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          props.onClose();
        }
      }}
    >
      <h3 id={`cp-${ch.span}-${ch.channel}`} ref={heading} tabIndex={-1}>
        Span {ch.span} timeslot {ch.channel}
      </h3>
      <dl class="facts">
        <dt>State</dt>
        <dd data-testid="channel-state">
          {st === 'signalling' ? props.slots.get(`${ch.span}:${ch.channel}`) : st}
        </dd>
        {ch.trunk && (
          <>
            <dt>Trunk</dt>
            <dd>{ch.trunk}</dd>
          </>
        )}
        {ch.cic !== undefined && (
          <>
            <dt>CIC</dt>
            <dd>{ch.cic}</dd>
          </>
        )}
        {ch.call !== undefined && (
          <>
            <dt>Engine call</dt>
            <dd>{ch.call}</dd>
          </>
        )}
      </dl>
      <Notice>{done}</Notice>
      <ErrorBox error={error} />
      <div class="row-actions">
        {ch.trunk && roleAtLeast(me.role, 'operator') && (
          <>
            <ActionButton onAction={op('block')} onError={setError}>
              Block
            </ActionButton>
            <ActionButton onAction={op('unblock')} onError={setError}>
              Unblock
            </ActionButton>
            <ActionButton onAction={op('reset')} onError={setError}>
              Reset
            </ActionButton>
            <a
              class="button"
              href={`#/test-call?trunk=${encodeURIComponent(ch.trunk)}&channel=${ch.channel}`}
            >
              Test call on it
            </a>
          </>
        )}
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </section>
  );
}

function SpanCard(props: {
  me: Me;
  span: SpanStatus;
  channels: ChannelStatus[];
  slots: Map<string, string>;
}) {
  const { span } = props;
  const [open, setOpen] = useState(false);
  const [selected, setSelected] = useState<number>();
  const alarm = span.alarms.length > 0;
  const detailsId = `span-${span.span}-details`;
  const ch = props.channels.find((c) => c.channel === selected);
  const counts = Object.entries(span.channels)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  return (
    <section
      class={`card span ${alarm ? 'in-alarm' : 'ok'}`}
      aria-labelledby={`span-${span.span}-title`}
      data-span={span.span}
    >
      <h2 id={`span-${span.span}-title`} class="span-title">
        <button
          type="button"
          class="span-toggle"
          aria-expanded={open}
          aria-controls={detailsId}
          onClick={() => setOpen(!open)}
        >
          Span {span.span} · {span.type} · {span.name}
        </button>
      </h2>
      <p class="span-status">
        <span class={`badge ${alarm ? 'bad' : 'ok'}`} data-testid="span-state">
          {alarm ? `Alarm: ${span.state}` : 'OK'}
        </span>
        {!span.configured && <span class="badge">not configured</span>}
        {span.links.map((l) => (
          <span
            key={l.trunk + l.kind}
            class={`badge ${l.state === 'up' ? 'ok' : 'bad'}`}
            data-testid="link-state"
          >
            {LINK_KIND[l.kind] ?? l.kind} {l.trunk}: {l.state}
          </span>
        ))}
        {span.trunks
          .filter((t) => !span.links.some((l) => l.trunk === t))
          .map((t) => (
            <span key={t} class="badge">
              trunk {t}
            </span>
          ))}
      </p>
      <p class="muted counts">{counts}</p>
      <div id={detailsId} hidden={!open} class="span-details">
        <dl class="facts">
          <dt>Timing</dt>
          <dd>
            {span.clockSource === 0
              ? 'free run (no span gives timing)'
              : span.clockSource === span.span
                ? 'this span is the timing source'
                : `from span ${span.clockSource}`}
          </dd>
          {Object.entries(span.counters).map(([k, v]) => (
            <Fragment key={k}>
              <dt>
                <abbr title={COUNTERS[k] ?? k}>{k.toUpperCase()}</abbr>
              </dt>
              <dd class={v > 0 ? 'warn' : ''}>{v}</dd>
            </Fragment>
          ))}
        </dl>
      </div>
      <ChannelGrid
        span={span}
        channels={props.channels}
        slots={props.slots}
        selected={selected}
        onSelect={(c) => setSelected(c === selected ? undefined : c)}
      />
      {ch && (
        <ChannelPanel
          me={props.me}
          ch={ch}
          slots={props.slots}
          onClose={() => {
            const ts = selected;
            setSelected(undefined);
            // Focus goes back to the timeslot the panel was about.
            requestAnimationFrame(() =>
              (
                document.querySelector(
                  `[data-span="${span.span}"] button.cell[data-ts="${ts}"]`,
                ) as HTMLElement | null
              )?.focus(),
            );
          }}
        />
      )}
    </section>
  );
}

export function DashboardPage({ me }: PageProps) {
  const view = useLive();
  const spans = [...view.spans.values()].sort((a, b) => a.span - b.span);
  const trunksKey = spans.map((s) => `${s.span}:${s.trunks.join(',')}`).join(';');
  const config = useLoad(
    () => api<{ config: SwitchConfig }>('GET', '/api/config').then((r) => r.config),
    [trunksKey],
  );
  const slots = signallingSlots(config.value ?? {}, spans);
  const alarms = spans.filter((s) => s.alarms.length > 0).length;
  return (
    <>
      <PageTitle>Dashboard</PageTitle>
      <p class="summary" aria-live="polite">
        {spans.length === 0
          ? view.state === 'open'
            ? 'No spans on this board.'
            : 'Waiting for the live view...'
          : `${spans.length} spans, ${alarms === 0 ? 'none' : alarms} in alarm.`}
      </p>
      <Legend />
      <div class="spans">
        {spans.map((s) => (
          <SpanCard
            key={s.span}
            me={me}
            span={s}
            channels={view.channelsOf(s.span)}
            slots={slots}
          />
        ))}
      </div>
    </>
  );
}
