// SPDX-License-Identifier: GPL-2.0-or-later
// System: the box's health, its board and front-panel MCU, the controller's recent log, backup and a checked restore.

import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, query, upload } from '../api.ts';
import type { PageProps } from '../app.tsx';
import {
  ActionButton,
  bytes,
  duration,
  ErrorBox,
  FileField,
  Notice,
  PageTitle,
  Section,
  useInterval,
  useLoad,
  when,
} from '../ui.tsx';

interface Health {
  at: string;
  uptimeS: number;
  processUptimeS: number;
  cpu: { loadPercent: number; cores: number; load1: number };
  memory: {
    totalBytes: number;
    availableBytes: number;
    usedPercent: number;
    processRssBytes: number;
  };
  disks: { mount: string; sizeBytes: number; usedBytes: number; usedPercent: number }[];
  temperatures: { cpuC: number | null; maxC: number | null };
}

interface LogLine {
  seq: number;
  level: number;
  time: number;
  msg?: string;
  subsystem?: string;
  [k: string]: unknown;
}

interface Summary {
  areas: Record<string, number>;
  admins: number;
  users: number;
  revision: number | null;
  boxName: string | null;
  callRecords: number;
  bytes: number;
  stagedAt?: string;
}

const LEVEL: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const HIDDEN = new Set(['seq', 'level', 'time', 'msg', 'pid', 'hostname', 'subsystem']);

function HealthView() {
  const health = useLoad(() => api<Health>('GET', '/api/system/health'));
  const status = useLoad(() => api<{ version: string; uptimeS: number }>('GET', '/api/status'));
  useInterval(health.reload, 5000);
  const h = health.value;
  return (
    <Section title="Health">
      <ErrorBox error={health.error} />
      {h && (
        <dl class="facts wide" data-testid="health">
          <dt>Firmware</dt>
          <dd>{status.value?.version ?? ''}</dd>
          <dt>CPU</dt>
          <dd>
            <meter min={0} max={100} high={85} value={h.cpu.loadPercent} aria-label="CPU load">
              {h.cpu.loadPercent}%
            </meter>{' '}
            {h.cpu.loadPercent}% of {h.cpu.cores} cores, load {h.cpu.load1}
          </dd>
          <dt>Memory</dt>
          <dd>
            <meter
              min={0}
              max={100}
              high={90}
              value={h.memory.usedPercent}
              aria-label="Memory used"
            >
              {h.memory.usedPercent}%
            </meter>{' '}
            {h.memory.usedPercent}% used, {bytes(h.memory.availableBytes)} free of{' '}
            {bytes(h.memory.totalBytes)}; controller {bytes(h.memory.processRssBytes)}
          </dd>
          {h.disks.map((d) => (
            <Fragment key={d.mount}>
              <dt>Disk {d.mount}</dt>
              <dd>
                <meter
                  min={0}
                  max={100}
                  high={90}
                  value={d.usedPercent}
                  aria-label={`Disk ${d.mount} used`}
                >
                  {d.usedPercent}%
                </meter>{' '}
                {d.usedPercent}% of {bytes(d.sizeBytes)}
              </dd>
            </Fragment>
          ))}
          <dt>Temperature</dt>
          <dd>
            {h.temperatures.cpuC === null
              ? 'no sensor'
              : `${h.temperatures.cpuC} °C (max ${h.temperatures.maxC ?? '?'} °C)`}
          </dd>
          <dt>Up</dt>
          <dd>
            box {duration(h.uptimeS * 1000)}, controller {duration(h.processUptimeS * 1000)}
          </dd>
          <dt>Read</dt>
          <dd>{when(h.at)}</dd>
        </dl>
      )}
    </Section>
  );
}

interface Board {
  model: {
    id: string;
    name: string;
    simulated: boolean;
    cards: { slot: number; kind: string; product: string; ports: string[] }[];
  };
  mcu: {
    device: string;
    link: string;
    since: string;
    mcu: { firmware: string } | null;
    leds: { colour: string; blink: boolean }[];
    lcd: string[];
    relay: 'open' | 'closed' | null;
    watchdog: { state: string | null; timeoutMs: number };
    lastError: string | null;
  } | null;
  note?: string;
  mismatches: string[];
}

const RELAY = {
  open: 'open: the E1 goes through the switch',
  closed: 'closed: the carrier is patched straight through to the customer equipment',
} as const;

/** The board model, whether DAHDI agrees with it, and the front-panel MCU (LEDs, LCD, relay, watchdog). */
function BoardView() {
  const board = useLoad(() => api<Board>('GET', '/api/board'));
  useInterval(board.reload, 5000);
  const b = board.value;
  return (
    <Section title="Board">
      <ErrorBox error={board.error} />
      {b && (
        <>
          {b.mismatches.length > 0 && (
            <div class="error-box" role="alert" data-testid="board-mismatch">
              <p>The line cards DAHDI reports differ from the board model {b.model.id}:</p>
              <ul>
                {b.mismatches.map((m) => (
                  <li key={m}>{m}</li>
                ))}
              </ul>
            </div>
          )}
          <dl class="facts wide" data-testid="board">
            <dt>Model</dt>
            <dd>
              {b.model.name} ({b.model.id}){b.model.simulated ? ', simulated' : ''}
            </dd>
            {b.model.cards.map((c) => (
              <Fragment key={c.slot}>
                <dt>Slot {c.slot}</dt>
                <dd>
                  {c.product}: {c.ports.join(' ')}
                </dd>
              </Fragment>
            ))}
            <dt>Board MCU</dt>
            <dd data-testid="mcu-link">
              {b.mcu
                ? `${b.mcu.link} on ${b.mcu.device}${b.mcu.mcu ? ` (${b.mcu.mcu.firmware})` : ''} since ${when(b.mcu.since)}`
                : (b.note ?? 'none')}
            </dd>
            {b.mcu && (
              <>
                <dt>Bypass relay</dt>
                <dd>{b.mcu.relay === null ? 'not known' : RELAY[b.mcu.relay]}</dd>
                <dt>Watchdog</dt>
                <dd>
                  {b.mcu.watchdog.state ?? 'not known'}, {b.mcu.watchdog.timeoutMs / 1000} s
                </dd>
                <dt>Span LEDs</dt>
                <dd>
                  {b.mcu.leds
                    .map((l, i) => `${i + 1} ${l.colour}${l.blink ? ' (blinking)' : ''}`)
                    .join(', ')}
                </dd>
                <dt>LCD</dt>
                <dd>
                  <pre class="lcd">{b.mcu.lcd.join('\n')}</pre>
                </dd>
                {b.mcu.lastError && (
                  <>
                    <dt>Last error</dt>
                    <dd>{b.mcu.lastError}</dd>
                  </>
                )}
              </>
            )}
          </dl>
        </>
      )}
    </Section>
  );
}

function Logs() {
  const [level, setLevel] = useState('info');
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<unknown>();
  const [follow, setFollow] = useState(true);
  const load = async (after?: number) => {
    try {
      const r = await api<{ lines: LogLine[]; last: number }>(
        'GET',
        `/api/system/logs${query({ limit: 300, level, after })}`,
      );
      setError(undefined);
      setLines((old) => (after === undefined ? r.lines : [...old, ...r.lines].slice(-300)));
    } catch (err) {
      setError(err);
    }
  };
  const last = lines[lines.length - 1]?.seq;
  useLoad(() => load(), [level]);
  useInterval(() => {
    if (follow) void load(last);
  }, 2000);
  return (
    <Section title="Controller log">
      <div class="inline-form">
        <label for="log-level">Level</label>
        <select
          id="log-level"
          value={level}
          onChange={(e) => setLevel((e.currentTarget as HTMLSelectElement).value)}
        >
          {['debug', 'info', 'warn', 'error'].map((l) => (
            <option key={l}>{l}</option>
          ))}
        </select>
        <label class="check">
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => setFollow((e.currentTarget as HTMLInputElement).checked)}
          />
          Follow
        </label>
      </div>
      <ErrorBox error={error} />
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard to scroll it (WCAG 2.1.1) */}
      <div class="log" role="log" aria-label="Controller log lines" tabIndex={0}>
        {lines.length === 0 && <p class="muted">No lines at this level.</p>}
        {lines.map((l) => (
          <div key={l.seq} class={`log-line lv-${LEVEL[l.level] ?? 'info'}`}>
            <span class="t">{when(l.time)}</span>{' '}
            <span class="lv">{LEVEL[l.level] ?? l.level}</span>{' '}
            {l.subsystem && <span class="sub">[{l.subsystem}]</span>} {l.msg}{' '}
            <span class="extra">
              {Object.entries(l)
                .filter(([k]) => !HIDDEN.has(k))
                .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
                .join(' ')}
            </span>
          </div>
        ))}
      </div>
    </Section>
  );
}

function SummaryList({ s }: { s: Summary }) {
  return (
    <dl class="facts wide">
      <dt>Box</dt>
      <dd>{s.boxName ?? '(no name)'}</dd>
      <dt>Configuration revision</dt>
      <dd>{s.revision ?? 'none'}</dd>
      <dt>Accounts</dt>
      <dd>
        {s.users} ({s.admins} admin)
      </dd>
      <dt>Call records</dt>
      <dd>{s.callRecords}</dd>
      <dt>Size</dt>
      <dd>{bytes(s.bytes)}</dd>
    </dl>
  );
}

function BackupRestore() {
  const staged = useLoad(() =>
    api<{ staged: boolean; summary?: Summary }>('GET', '/api/system/restore'),
  );
  const [file, setFile] = useState<File>();
  const [progress, setProgress] = useState<number>();
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  return (
    <Section title="Backup and restore">
      <p>
        A backup is the whole store in one SQLite file: configuration and its revisions, accounts
        (password hashes), call records, flows and campaigns, copied at one point in time while the
        switch runs. Keep it like a password.
      </p>
      <p>
        <a class="button" href="/api/system/backup" download>
          Download a backup
        </a>
      </p>
      <h3>Restore</h3>
      <p>
        The file is checked now (an intact Switchboard store, an enabled admin, nothing newer than
        this firmware) and takes effect when the controller next starts: restart the service (or
        stop and start <code>switchboard start</code>). The store it replaces is kept beside it as{' '}
        <code>switchboard.db.pre-restore</code>. Accounts and passwords become those of the backup.
      </p>
      <FileField
        label="Backup file"
        accept=".db,.sqlite,.sqlite3,application/vnd.sqlite3"
        onFile={(f) => {
          setFile(f);
          setDone('');
          setError(undefined);
        }}
      />
      <ActionButton
        disabled={!file}
        onError={(err) => {
          setError(err);
          setProgress(undefined);
        }}
        onAction={async () => {
          if (!file) return;
          setError(undefined);
          setProgress(0);
          await upload(
            'POST',
            '/api/system/restore',
            file,
            'application/octet-stream',
            setProgress,
          );
          setDone('Checked and staged: it is applied when the controller next starts.');
          staged.reload();
        }}
      >
        Check and stage the restore
      </ActionButton>
      {progress !== undefined && (
        <div class="progress-line">
          <label for="restore-progress">Upload</label>
          <progress id="restore-progress" max={1} value={progress} />
          <span>{Math.round(progress * 100)}%</span>
        </div>
      )}
      <Notice>{done}</Notice>
      <ErrorBox error={error ?? staged.error} />
      {staged.value?.staged && staged.value.summary && (
        <div class="card inset" data-testid="restore-staged">
          <h4>
            Staged for the next start
            {staged.value.summary.stagedAt ? ` (since ${when(staged.value.summary.stagedAt)})` : ''}
          </h4>
          <SummaryList s={staged.value.summary} />
          <ActionButton
            onError={setError}
            onAction={async () => {
              await api('DELETE', '/api/system/restore');
              setDone('The staged restore is cancelled.');
              staged.reload();
            }}
          >
            Cancel the restore
          </ActionButton>
        </div>
      )}
    </Section>
  );
}

export function SystemPage({ me }: PageProps) {
  return (
    <>
      <PageTitle>System</PageTitle>
      <HealthView />
      <BoardView />
      {me.role === 'admin' && <Logs />}
      {me.role === 'admin' && <BackupRestore />}
    </>
  );
}
