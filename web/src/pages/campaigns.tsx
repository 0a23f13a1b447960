// SPDX-License-Identifier: GPL-2.0-or-later
// Campaigns: create one in any mode, import its contacts with a progress bar, start/pause/stop, live counters, results, agents.

import { useState } from 'preact/hooks';
import { api, upload } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { roleAtLeast } from '../types.ts';
import {
  ActionButton,
  ErrorBox,
  Field,
  FileField,
  Notice,
  PageTitle,
  Section,
  SelectField,
  TextField,
  useInterval,
  useLoad,
} from '../ui.tsx';

interface Monitor {
  name: string;
  state: string;
  mode: string;
  windowOpen: boolean;
  contacts: { pending: number; dialing: number; done: number };
  results: Record<string, number>;
  outcomes: Record<string, number>;
  attempts: number;
  answerRate: number;
  callsPerMinute: number;
  calls: { callId: string; number: string; state: string }[];
}

interface Draft {
  name: string;
  mode: string;
  contacts: { pending: number; dialing: number; done: number };
}

interface ImportReport {
  rows: number;
  imported: number;
  duplicates: unknown[];
  invalid: { row: number; field: string; value: string; reason: string }[];
}

const RESULT_LISTS = ['success', 'notified', 'refused', 'failed', 'wrong_number'] as const;
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

function formatOf(name: string): 'csv' | 'xlsx' | 'txt' {
  if (/\.xlsx$/i.test(name)) return 'xlsx';
  if (/\.txt$/i.test(name)) return 'txt';
  return 'csv';
}

/** A file as base64 (xlsx is binary; the import takes text or base64 in JSON). */
async function base64(file: Blob): Promise<string> {
  const buf = new Uint8Array(await file.arrayBuffer());
  let s = '';
  for (let i = 0; i < buf.length; i += 0x8000)
    s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
  return btoa(s);
}

function ImportContacts(props: { names: string[]; onDone: () => void }) {
  const [campaign, setCampaign] = useState(props.names[0] ?? '');
  const [file, setFile] = useState<File>();
  const [numberCol, setNumberCol] = useState('phone');
  const [nameCol, setNameCol] = useState('name');
  const [header, setHeader] = useState(true);
  const [progress, setProgress] = useState<number>();
  const [report, setReport] = useState<ImportReport & { added: number; alreadyIn: number }>();
  const [error, setError] = useState<unknown>();
  const format = file ? formatOf(file.name) : 'csv';
  const target = props.names.includes(campaign) ? campaign : (props.names[0] ?? '');
  return (
    <Section title="Import contacts">
      <SelectField label="Campaign" value={target} onValue={setCampaign} options={props.names} />
      <FileField
        label="Contact list (CSV, Excel .xlsx or TXT)"
        accept=".csv,.xlsx,.txt,text/csv,text/plain"
        hint="numbers are normalised; duplicates, invalid numbers and broken rows are reported by row"
        onFile={(f) => {
          setFile(f);
          setReport(undefined);
          setProgress(undefined);
        }}
      />
      {format !== 'txt' && (
        <div class="fields">
          <TextField
            label="Number column"
            hint="its header, or its position from 1"
            value={numberCol}
            onValue={setNumberCol}
          />
          <TextField label="Name column (optional)" value={nameCol} onValue={setNameCol} />
          <label class="check">
            <input
              type="checkbox"
              checked={header}
              onChange={(e) => setHeader((e.currentTarget as HTMLInputElement).checked)}
            />
            The first row names the columns
          </label>
        </div>
      )}
      <ActionButton
        class="primary"
        disabled={!file || target === ''}
        onError={(err) => {
          setError(err);
          setProgress(undefined);
        }}
        onAction={async () => {
          if (!file) return;
          setError(undefined);
          setReport(undefined);
          setProgress(0);
          const col = (v: string) => (/^\d+$/.test(v) ? Number(v) : v);
          const body = {
            format,
            ...(format === 'xlsx'
              ? { contentBase64: await base64(file) }
              : { content: await file.text() }),
            ...(format === 'txt'
              ? {}
              : {
                  header,
                  mapping: { number: col(numberCol), ...(nameCol ? { name: col(nameCol) } : {}) },
                }),
          };
          const r = await upload<{
            report: ImportReport;
            added: { added: number; duplicates: unknown[] };
          }>(
            'POST',
            `/api/campaigns/${encodeURIComponent(target)}/contacts`,
            JSON.stringify(body),
            'application/json',
            setProgress,
          );
          setReport({
            ...r.report,
            added: r.added.added,
            alreadyIn: r.added.duplicates.length,
          });
          props.onDone();
        }}
      >
        Import
      </ActionButton>
      {progress !== undefined && (
        <div class="progress-line">
          <label for="import-progress">Upload</label>
          <progress id="import-progress" max={1} value={progress}>
            {Math.round(progress * 100)}%
          </progress>
          <span>{Math.round(progress * 100)}%</span>
        </div>
      )}
      <ErrorBox error={error} />
      {report && (
        <div class="notice" role="status" data-testid="import-report">
          <p>
            {report.imported} of {report.rows} rows imported: {report.added} new contacts
            {report.alreadyIn > 0 ? `, ${report.alreadyIn} already in the campaign` : ''};{' '}
            {report.duplicates.length} duplicates in the list, {report.invalid.length} refused.
          </p>
          {report.invalid.length > 0 && (
            <ul>
              {report.invalid.slice(0, 20).map((i) => (
                <li key={`${i.row}-${i.field}`}>
                  row {i.row}, {i.field} "{i.value}": {i.reason}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </Section>
  );
}

const MODES = {
  broadcast: 'plays an IVR flow to each contact who answers and records the key pressed; no agents',
  preview: 'an agent sees the contact first and accepts or skips; then the call is placed',
  progressive: 'one call for each ready agent of the group',
  predictive:
    'paced from the measured answer rate and handle time, under an abandonment cap (default 3%)',
} as const;
type Mode = keyof typeof MODES;

function NewCampaign(props: {
  flows: string[];
  groups: string[];
  onCreated: (name: string) => void;
}) {
  const [name, setName] = useState('');
  const [mode, setMode] = useState<Mode>('broadcast');
  const [group, setGroup] = useState('');
  const [flow, setFlow] = useState(props.flows[0] ?? '');
  const [from, setFrom] = useState('');
  const [callerId, setCallerId] = useState('');
  const [maxChannels, setMaxChannels] = useState('4');
  const [timezone, setTimezone] = useState(
    Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
  );
  const [days, setDays] = useState<string[]>(['mon', 'tue', 'wed', 'thu', 'fri']);
  const [start, setStart] = useState('09:00');
  const [end, setEnd] = useState('18:00');
  const [error, setError] = useState<unknown>();
  // The flows arrive after the form is drawn: until one is chosen, the first is.
  const chosenFlow = props.flows.includes(flow) ? flow : (props.flows[0] ?? '');
  return (
    <Section title="New campaign">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const doc = {
            name,
            mode,
            ...(mode === 'broadcast' ? { flow: chosenFlow } : { agentGroup: group }),
            ...(from ? { from } : {}),
            ...(callerId ? { callerId } : {}),
            maxChannels: Number(maxChannels),
            timezone,
            windows: [{ days, from: start, to: end }],
          };
          api('POST', '/api/campaigns', doc).then(() => {
            setError(undefined);
            props.onCreated(name);
            setName('');
          }, setError);
        }}
      >
        <div class="fields">
          <TextField label="Name" required value={name} onValue={setName} />
          <SelectField
            label="Mode"
            hint={MODES[mode]}
            value={mode}
            onValue={setMode}
            options={Object.keys(MODES) as Mode[]}
          />
          {mode === 'broadcast' ? (
            <SelectField
              label="IVR flow"
              value={chosenFlow}
              onValue={setFlow}
              options={props.flows}
            />
          ) : (
            <Field
              label="Agent group"
              hint="the group agents log in to; the answered calls go to them"
            >
              {(a) => (
                <>
                  <input
                    {...a}
                    required
                    list="agent-groups"
                    value={group}
                    onInput={(e) => setGroup((e.currentTarget as HTMLInputElement).value)}
                  />
                  <datalist id="agent-groups">
                    {props.groups.map((g) => (
                      <option key={g} value={g} />
                    ))}
                  </datalist>
                </>
              )}
            </Field>
          )}
          <TextField
            label="Route as (optional)"
            hint="outbound routes with this name in `from` carry it"
            value={from}
            onValue={setFrom}
          />
          <TextField
            label="Caller ID (optional)"
            inputMode="tel"
            value={callerId}
            onValue={setCallerId}
          />
          <TextField
            label="Channels at most"
            type="number"
            min={1}
            max={1024}
            value={maxChannels}
            onValue={setMaxChannels}
          />
          <TextField
            label="Time zone of the calling window"
            value={timezone}
            onValue={setTimezone}
          />
          <fieldset class="checks">
            <legend>Calling days</legend>
            {DAYS.map((d) => (
              <label key={d} class="check">
                <input
                  type="checkbox"
                  checked={days.includes(d)}
                  onChange={(e) => {
                    const on = (e.currentTarget as HTMLInputElement).checked;
                    setDays(DAYS.filter((x) => (x === d ? on : days.includes(x))));
                  }}
                />
                {d}
              </label>
            ))}
          </fieldset>
          <TextField label="From (HH:MM)" type="time" value={start} onValue={setStart} />
          <TextField label="Until (HH:MM)" type="time" value={end} onValue={setEnd} />
        </div>
        <ErrorBox error={error} />
        <button
          type="submit"
          class="primary"
          disabled={name === '' || (mode === 'broadcast' ? chosenFlow === '' : group === '')}
        >
          Create the campaign
        </button>
      </form>
    </Section>
  );
}

interface Agent {
  extension: string;
  group: string;
  state: string;
  since: string;
  preview?: { campaign: string; number: string; name?: string; attempt: number };
}

/** The agents logged in to groups: their state, the contact a preview agent is shown, and controls. */
function Agents(props: { agents: Agent[]; canRun: boolean; onChange: () => void }) {
  const [extension, setExtension] = useState('');
  const [group, setGroup] = useState('');
  const [error, setError] = useState<unknown>();
  const act = (ext: string, what: string, body?: unknown) => async () => {
    setError(undefined);
    await api('POST', `/api/agents/${encodeURIComponent(ext)}/${what}`, body);
    props.onChange();
  };
  return (
    <Section title="Agents">
      <ErrorBox error={error} />
      {props.agents.length === 0 && (
        <p class="muted">
          No agent is logged in. Preview, progressive and predictive campaigns need one.
        </p>
      )}
      {props.agents.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Extension</th>
                <th scope="col">Group</th>
                <th scope="col">State</th>
                <th scope="col">Since</th>
                <th scope="col">Preview</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody aria-live="polite">
              {props.agents.map((a) => (
                <tr key={a.extension} data-agent={a.extension}>
                  <th scope="row">{a.extension}</th>
                  <td>{a.group}</td>
                  <td data-testid="agent-state">{a.state}</td>
                  <td>{new Date(a.since).toLocaleTimeString()}</td>
                  <td>
                    {a.preview
                      ? `${a.preview.number}${a.preview.name ? ` (${a.preview.name})` : ''}, ${a.preview.campaign}`
                      : '–'}
                  </td>
                  <td class="row-actions">
                    {props.canRun && a.preview && (
                      <>
                        <ActionButton
                          onAction={act(a.extension, 'preview', { decision: 'accept' })}
                          onError={setError}
                        >
                          Call
                        </ActionButton>
                        <ActionButton
                          onAction={act(a.extension, 'preview', { decision: 'skip' })}
                          onError={setError}
                        >
                          Skip
                        </ActionButton>
                      </>
                    )}
                    {props.canRun && (a.state === 'ready' || a.state === 'not_ready') && (
                      <ActionButton
                        onAction={act(a.extension, 'ready', { ready: a.state !== 'ready' })}
                        onError={setError}
                      >
                        {a.state === 'ready' ? 'Not ready' : 'Ready'}
                      </ActionButton>
                    )}
                    {props.canRun && (
                      <ActionButton onAction={act(a.extension, 'logout')} onError={setError}>
                        Log out
                      </ActionButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.canRun && (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            act(extension, 'login', { group })().then(() => setExtension(''), setError);
          }}
        >
          <TextField label="Agent extension" required value={extension} onValue={setExtension} />
          <TextField label="Group" required value={group} onValue={setGroup} />
          <button type="submit" disabled={extension === '' || group === ''}>
            Log the agent in
          </button>
        </form>
      )}
    </Section>
  );
}

export function CampaignsPage({ me }: PageProps) {
  const data = useLoad(() =>
    api<{ campaigns: Monitor[]; drafts?: Draft[] }>('GET', '/api/campaigns'),
  );
  const flows = useLoad(() =>
    api<{ flows: { name: string }[] }>('GET', '/api/flows').then((r) => r.flows.map((f) => f.name)),
  );
  const agents = useLoad(() => api<{ agents: Agent[] }>('GET', '/api/agents'));
  // The counters and the agents follow the dialer every two seconds while the page is open.
  useInterval(() => {
    data.reload();
    agents.reload();
  }, 2000);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const canRun = roleAtLeast(me.role, 'operator');
  const campaigns = data.value?.campaigns ?? [];
  const drafts = data.value?.drafts ?? [];
  // One list, so that a draft that starts stays the same row.
  const rows: (Partial<Monitor> & Draft & { state: string })[] = [
    ...drafts.map((d) => ({ ...d, state: 'draft' })),
    ...campaigns,
  ];
  const command = (name: string, cmd: string) => async () => {
    setError(undefined);
    const r = await api<{ state: string }>(
      'POST',
      `/api/campaigns/${encodeURIComponent(name)}/${cmd}`,
    );
    setDone(`${name}: ${r.state}`);
    data.reload();
  };
  return (
    <>
      <PageTitle>Campaigns</PageTitle>
      <Notice>{done}</Notice>
      <ErrorBox error={error ?? data.error} />
      <Section title="Campaigns">
        {rows.length === 0 && <p class="muted">No campaigns yet.</p>}
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Campaign</th>
                <th scope="col">State</th>
                <th scope="col">Contacts pending / dialling / done</th>
                <th scope="col">Results</th>
                <th scope="col">Attempts</th>
                <th scope="col">Calls now</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody aria-live="polite">
              {rows.map((c) => (
                <tr key={c.name} data-campaign={c.name}>
                  <th scope="row">
                    {c.name} <span class="muted">({c.mode})</span>
                  </th>
                  <td data-testid="campaign-state">
                    {c.state}
                    {c.state === 'running' && c.windowOpen === false ? ' (outside its window)' : ''}
                  </td>
                  <td>
                    {c.contacts.pending} / {c.contacts.dialing} / {c.contacts.done}
                  </td>
                  <td>
                    {Object.entries(c.results ?? {})
                      .filter(([, n]) => n > 0)
                      .map(([r, n]) => `${r} ${n}`)
                      .join(', ') || '–'}
                  </td>
                  <td>{c.attempts ?? 0}</td>
                  <td>{c.calls?.length ?? 0}</td>
                  <td class="row-actions">
                    {canRun && c.state === 'draft' && (
                      <ActionButton onAction={command(c.name, 'start')} onError={setError}>
                        Start
                      </ActionButton>
                    )}
                    {canRun && c.state === 'running' && (
                      <ActionButton onAction={command(c.name, 'pause')} onError={setError}>
                        Pause
                      </ActionButton>
                    )}
                    {canRun && c.state === 'paused' && (
                      <ActionButton onAction={command(c.name, 'resume')} onError={setError}>
                        Resume
                      </ActionButton>
                    )}
                    {canRun && (c.state === 'running' || c.state === 'paused') && (
                      <ActionButton
                        class="danger"
                        onAction={command(c.name, 'stop')}
                        onError={setError}
                      >
                        Stop
                      </ActionButton>
                    )}
                    {c.state !== 'draft' && (
                      <details class="downloads">
                        <summary>Results</summary>
                        <ul>
                          <li>
                            <a
                              href={`/api/campaigns/${encodeURIComponent(c.name)}/results.csv`}
                              download
                            >
                              all (CSV)
                            </a>
                          </li>
                          {RESULT_LISTS.map((l) => (
                            <li key={l}>
                              <a
                                href={`/api/campaigns/${encodeURIComponent(c.name)}/results.csv?list=${l}`}
                                download
                              >
                                {l} ({c.results?.[l] ?? 0})
                              </a>
                            </li>
                          ))}
                        </ul>
                      </details>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>
      {canRun && (
        <ImportContacts
          names={[
            ...drafts.map((d) => d.name),
            ...campaigns
              .filter((c) => c.state !== 'stopped' && c.state !== 'done')
              .map((c) => c.name),
          ]}
          onDone={data.reload}
        />
      )}
      <Agents agents={agents.value?.agents ?? []} canRun={canRun} onChange={agents.reload} />
      {canRun && (
        <NewCampaign
          flows={flows.value ?? []}
          groups={[...new Set((agents.value?.agents ?? []).map((a) => a.group))]}
          onCreated={(name) => {
            setDone(`Campaign ${name} created as a draft: import its contacts, then start it.`);
            data.reload();
          }}
        />
      )}
    </>
  );
}
