// SPDX-License-Identifier: GPL-2.0-or-later
// Test call: place a call on a chosen trunk and channel (or through the outbound routes), follow it to its cause.

import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { live, useLive } from '../live.ts';
import type { CallEvent, SwitchConfig } from '../types.ts';
import {
  ActionButton,
  duration,
  ErrorBox,
  Field,
  PageTitle,
  Section,
  TextField,
  useLoad,
  when,
} from '../ui.tsx';

const STEP: Record<CallEvent['event'], string> = {
  start: 'Placed',
  answer: 'Answered',
  end: 'Ended',
};

export function TestCallPage({ params }: PageProps) {
  const config = useLoad(() =>
    api<{ config: SwitchConfig }>('GET', '/api/config').then((r) => r.config),
  );
  const view = useLive();
  const [trunk, setTrunk] = useState(params.get('trunk') ?? '');
  const [channel, setChannel] = useState(params.get('channel') ?? '');
  const [called, setCalled] = useState('');
  const [calling, setCalling] = useState('');
  const [error, setError] = useState<unknown>();
  const [callId, setCallId] = useState<string>();
  const [placedAt, setPlacedAt] = useState<string>();
  const trunks = config.value?.trunks ?? [];

  // Events for this call, in the order the switch sent them (they may come before the POST answers).
  const events = callId ? view.callEvents.filter((e) => e.call === callId) : [];
  const ended = events.find((e) => e.event === 'end');

  const place = async () => {
    setError(undefined);
    setCallId(undefined);
    const body = {
      called,
      ...(calling ? { calling } : {}),
      ...(trunk ? { trunk } : {}),
      ...(trunk && channel ? { channel: Number(channel) } : {}),
    };
    setPlacedAt(new Date().toISOString());
    const r = await api<{ id: string }>('POST', '/api/calls', body);
    setCallId(r.id);
  };

  return (
    <>
      <PageTitle>Test call</PageTitle>
      <p>
        Place a call to prove a trunk: on a chosen trunk and timeslot (past the routing rules), or
        through the outbound routes as a real call would go. Its progress and the cause that ends it
        appear below as the switch reports them.
      </p>
      {live.state !== 'open' && (
        <p class="notice" role="status">
          The live view is not connected: progress appears once it is.
        </p>
      )}
      <ErrorBox error={config.error} />
      {!config.value && !config.error && <p aria-busy="true">Loading the trunks...</p>}
      {config.value && (
        <form
          class="card"
          onSubmit={(e) => {
            e.preventDefault();
            place().catch(setError);
          }}
        >
          <Field
            label="Trunk"
            hint="(outbound routes) lets the routing rules choose, with hunting and failover"
          >
            {(a) => (
              <select
                {...a}
                value={trunk}
                onChange={(e) => setTrunk((e.currentTarget as HTMLSelectElement).value)}
              >
                <option value="">(outbound routes)</option>
                {trunks.map((t) => (
                  <option key={t.name} value={t.name}>
                    {t.name} ({t.signalling}
                    {t.span !== undefined ? `, span ${t.span}` : ''})
                  </option>
                ))}
              </select>
            )}
          </Field>
          <TextField
            label="Channel (optional)"
            hint="a timeslot or analog port of that trunk; empty: any free one"
            type="number"
            inputMode="numeric"
            min={1}
            max={255}
            disabled={trunk === ''}
            value={channel}
            onValue={setChannel}
          />
          <TextField
            label="Number to call"
            required
            inputMode="tel"
            pattern="\+?[0-9*#]{1,32}"
            autoComplete="off"
            value={called}
            onValue={setCalled}
          />
          <TextField
            label="Calling number (optional)"
            hint="default: the route's caller ID"
            inputMode="tel"
            pattern="\+?[0-9]{0,32}"
            autoComplete="off"
            value={calling}
            onValue={setCalling}
          />
          <ErrorBox error={error} />
          <button type="submit" class="primary">
            Place the call
          </button>
        </form>
      )}
      {callId && (
        <Section title={`Call ${callId}`}>
          <ol class="progress" aria-live="polite" data-testid="call-progress">
            <li data-step="requested">Requested at {when(placedAt)}</li>
            {events.map((e) => (
              <li key={e.event} data-step={e.event}>
                {STEP[e.event]} at {when(e.at)}
                {e.event === 'start' && e.trunk && ` on ${e.trunk}`}
                {e.event === 'start' && e.channel !== undefined && ` timeslot ${e.channel}`}
                {e.event === 'end' && (
                  <>
                    {': '}
                    <strong data-testid="call-cause">
                      cause {e.cause} {e.causeName}
                    </strong>
                    , {e.disposition}, {duration(e.durationMs)}
                    {e.billableMs ? ` (${duration(e.billableMs)} answered)` : ''}
                  </>
                )}
              </li>
            ))}
          </ol>
          <div class="row-actions">
            {!ended && (
              <ActionButton
                class="danger"
                onError={setError}
                onAction={() => api('DELETE', `/api/calls/${encodeURIComponent(callId)}`)}
              >
                Hang up
              </ActionButton>
            )}
            {ended && (
              <a class="button" href={`#/cdr?id=${encodeURIComponent(callId)}`}>
                Its call record
              </a>
            )}
          </div>
        </Section>
      )}
    </>
  );
}
