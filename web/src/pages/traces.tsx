// SPDX-License-Identifier: GPL-2.0-or-later
// Signalling traces: start and stop capturing a span's D-channel or SS7 link, download the pcap.

import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { useLive } from '../live.ts';
import { ActionButton, bytes, ErrorBox, Notice, PageTitle, useInterval, useLoad } from '../ui.tsx';

interface Trace {
  span: number;
  running: boolean;
  frames: number;
  dropped: number;
  bytes: number;
}

export function TracesPage(_: PageProps) {
  const view = useLive();
  const traces = useLoad(() =>
    api<{ traces: Trace[] }>('GET', '/api/trunks').then((r) => r.traces),
  );
  useInterval(traces.reload, 2000);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const spans = [...view.spans.values()]
    .filter((s) => s.links.length > 0)
    .sort((a, b) => a.span - b.span);
  const act = (span: number, what: 'start' | 'stop') => async () => {
    setError(undefined);
    await api('POST', `/api/spans/${span}/trace/${what}`, what === 'start' ? {} : undefined);
    setDone(`Trace ${what === 'start' ? 'started' : 'stopped'} on span ${span}.`);
    traces.reload();
  };
  return (
    <>
      <PageTitle>Signalling traces</PageTitle>
      <p>
        Capture the frames of a span's D-channel (ISDN PRI, LAPD) or SS7 link (MTP2) as the switch
        sends and receives them, then open the pcap file in Wireshark. A capture keeps up to 64 MiB
        in memory and stays readable after it is stopped.
      </p>
      <Notice>{done}</Notice>
      <ErrorBox error={error ?? traces.error} />
      {spans.length === 0 ? (
        <p class="muted">
          No span carries a D-channel or SS7 link: configure a PRI or SS7 trunk first.
        </p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Span</th>
                <th scope="col">Link</th>
                <th scope="col">Capture</th>
                <th scope="col">Frames</th>
                <th scope="col">Size</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {spans.map((s) => {
                const t = traces.value?.find((x) => x.span === s.span);
                return (
                  <tr key={s.span} data-span={s.span}>
                    <th scope="row">
                      {s.span} {s.name}
                    </th>
                    <td>{s.links.map((l) => `${l.trunk} ${l.kind} ${l.state}`).join(', ')}</td>
                    <td data-testid="trace-state">
                      {t ? (t.running ? 'running' : 'stopped') : 'none'}
                    </td>
                    <td>
                      {t?.frames ?? 0}
                      {t && t.dropped > 0 ? ` (${t.dropped} dropped)` : ''}
                    </td>
                    <td>{bytes(t?.bytes ?? 0)}</td>
                    <td class="row-actions">
                      <ActionButton
                        disabled={t?.running === true}
                        onAction={act(s.span, 'start')}
                        onError={setError}
                        aria-label={`Start the trace on span ${s.span}`}
                      >
                        Start
                      </ActionButton>
                      <ActionButton
                        disabled={t?.running !== true}
                        onAction={act(s.span, 'stop')}
                        onError={setError}
                        aria-label={`Stop the trace on span ${s.span}`}
                      >
                        Stop
                      </ActionButton>
                      {t && (
                        <a class="button" href={`/api/spans/${s.span}/trace.pcap`} download>
                          Download span{s.span}.pcap
                        </a>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
