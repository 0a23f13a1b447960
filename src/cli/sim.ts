// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard sim ...`: run and steer the userspace DAHDI simulator.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';
import { paths } from '../runtime/paths.ts';
import {
  casBits,
  defaultSimDir,
  type SimChannelStatus,
  SimClient,
  type SimFault,
  type SimSpanStatus,
  type SimStatus,
  sigName,
} from '../sim/client.ts';
import { MAX_SPANS } from '../sim/config.ts';
import { livePid, simEnv, startSim, stopSim } from '../sim/daemon.ts';
import {
  type Command,
  type OptionSpec,
  parseIntArg,
  parseNumberArg,
  stringValue,
  usageError,
  type Values,
} from './command.ts';

export const DIR_OPTION: OptionSpec = {
  type: 'string',
  arg: 'DIR',
  help: 'simulator directory (control.sock, dahdi.sock, simd.pid, simd.log); default $SWITCHBOARD_SIM_DIR or /run/switchboard-sim',
};

function simDir(values: Values): string {
  return resolve(stringValue(values, 'dir') ?? defaultSimDir());
}

const up: Command = {
  name: 'sim up',
  summary: 'Start the simulator daemon in the background and wait until it answers.',
  options: {
    config: {
      type: 'string',
      arg: 'FILE',
      help: 'board to simulate, YAML or JSON (default board/sim/demo.yaml)',
    },
    dir: DIR_OPTION,
  },
  details:
    'The daemon runs detached; its output goes to DIR/simd.log and its pid to DIR/simd.pid.\nStop it with `switchboard sim down`.',
  async run({ values, io }) {
    const sim = await startSim({
      config: stringValue(values, 'config') ?? paths.demoBoard,
      dir: simDir(values),
    });
    io.out(`simulator up in ${sim.dir} (pid ${sim.pid}, ${sim.config.spans.length} spans)\n`);
    return 0;
  },
};

const down: Command = {
  name: 'sim down',
  summary: 'Shut the simulator down and wait for it to exit.',
  options: { dir: DIR_OPTION },
  async run({ values, io }) {
    const dir = simDir(values);
    io.out(
      (await stopSim(dir))
        ? `simulator in ${dir} stopped\n`
        : `no simulator was running in ${dir}\n`,
    );
    return 0;
  },
};

function faultText(f: SimSpanStatus['faults']): string {
  const out = (['los', 'ais', 'rai'] as const).filter((k) => f[k]).map((k) => k.toUpperCase());
  if (f.errorRate) out.push(`errors=${f.errorRate}`);
  if (f.slipPpm) out.push(`slip=${f.slipPpm}ppm`);
  return out.join(',') || '-';
}

/** Rows under a header, columns padded to their widest cell; the last column is not padded. */
function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The status answer as a table for people. */
export function formatStatus(status: SimStatus): string {
  const header = [
    'span',
    'name',
    'type',
    'chans',
    'base',
    'cfg',
    'line',
    'alarms',
    'cable',
    'faults',
    'open',
    'counters',
  ];
  const rows = status.spans.map((s) => [
    String(s.span),
    s.name,
    s.type,
    String(s.channels),
    String(s.basechan),
    s.configured ? 'yes' : 'no',
    s.type === 'analog' || !s.configured ? '-' : `${s.framing}/${s.coding}${s.crc4 ? '/crc4' : ''}`,
    s.alarms.join(',') || 'OK',
    s.cable === null ? '-' : String(s.cable),
    faultText(s.faults),
    String(s.openChannels),
    Object.entries(s.counters)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  ]);
  const t = status.tick;
  return [
    ...formatTable(header, rows),
    '',
    `tick: ${t.realtime ? 'real time' : 'NOT real time'}, ${t.ticks} ticks, late p50 ${t.lateP50Us} us, p99 ${t.lateP99Us} us, p99.9 ${t.lateP999Us} us, max ${t.lateMaxUs} us`,
    `clients: ${status.clients}`,
    '',
  ].join('\n');
}

/**
 * The channels answer of one span as a table for people, one line per channel: analog ports
 * show their hook and ringing state, E1/T1 timeslots their CAS bits (A B C D, `-` when unknown).
 */
export function formatChannels(span: SimSpanStatus, channels: SimChannelStatus[]): string {
  const analog = span.type === 'analog';
  const header = [
    'chan',
    'pos',
    'open',
    'sig',
    'bufs',
    'rxq',
    'txq',
    'events',
    'overruns',
    'underruns',
    ...(analog ? ['hook', 'ring'] : ['rxABCD', 'txABCD']),
  ];
  const rows = channels.map((c) => [
    String(c.channel),
    String(c.chanpos),
    c.open ? 'yes' : 'no',
    sigName(c.sig),
    c.open ? `${c.numbufs}x${c.blocksize}` : '-',
    String(c.rxQueued),
    String(c.txQueued),
    String(c.eventsQueued),
    String(c.rxOverruns),
    String(c.txUnderruns),
    ...(analog
      ? [c.offhook ? 'off' : 'on', c.ringing ? 'ringing' : '-']
      : [casBits(c.rxbits), casBits(c.txbits)]),
  ]);
  const last = span.basechan + span.channels - 1;
  return [
    `span ${span.span} ${span.name} (${span.type}, channels ${span.basechan}-${last})`,
    ...formatTable(header, rows),
    '',
  ].join('\n');
}

const status: Command = {
  name: 'sim status',
  summary:
    'Show every simulated span (configuration, alarms, cable, faults, error counters), or the channels of one.',
  options: {
    json: { type: 'boolean', help: "print the daemon's answer as JSON instead of a table" },
    channels: {
      type: 'string',
      arg: 'SPAN',
      help: 'show the channels of span SPAN instead: open, signalling, buffers, overruns, hook or CAS bits',
    },
    dir: DIR_OPTION,
  },
  details: [
    'With --channels, one line per channel of the span: channel number, position in the span,',
    'open or not, signalling (DAHDI_SIG_* name, NONE until dahdi_cfg), buffers (NUMxSIZE while',
    'open), buffers queued to read (rxq) and to send (txq), events queued, receive overruns and',
    'transmit underruns; then, for an analog card, the hook state (on/off) and ringing, and for',
    'an E1/T1 span the CAS bits received and sent, A to D (1001: A and D set; - not known yet).',
  ].join('\n'),
  async run({ values, io }) {
    const dir = simDir(values);
    const client = new SimClient(dir);
    const spanText = stringValue(values, 'channels');
    if (spanText !== undefined) {
      const span = parseIntArg(status, '--channels', spanText, 1, MAX_SPANS);
      const answer = await client.channels(span);
      if (values.json) {
        io.out(`${JSON.stringify(answer, null, 2)}\n`);
        return 0;
      }
      const spanStatus = (await client.status()).spans.find((s) => s.span === span);
      if (spanStatus === undefined)
        throw new SwitchboardError('E_SIM_PROTOCOL', `simulator status has no span ${span}`);
      io.out(formatChannels(spanStatus, answer.channels));
      return 0;
    }
    const answer = await client.status();
    if (values.json)
      io.out(`${JSON.stringify({ dir, pid: livePid(dir) ?? null, ...answer }, null, 2)}\n`);
    else io.out(formatStatus(answer));
    return 0;
  },
};

const cable: Command = {
  name: 'sim cable',
  summary: 'Plug a crossover cable between two spans.',
  args: 'SPAN_A SPAN_B',
  argHelp: [
    ['SPAN_A', 'span number of one end'],
    ['SPAN_B', 'span number of the other end (same type: E1 to E1, T1 to T1)'],
  ],
  options: { dir: DIR_OPTION },
  positionals: [2, 2],
  async run({ values, positionals, io }) {
    const a = parseIntArg(cable, 'SPAN_A', positionals[0]);
    const b = parseIntArg(cable, 'SPAN_B', positionals[1]);
    await new SimClient(simDir(values)).cable(a, b);
    io.out(`span ${a} cabled to span ${b}\n`);
    return 0;
  },
};

const uncable: Command = {
  name: 'sim uncable',
  summary: 'Unplug the cable of a span (both ends lose signal).',
  args: 'SPAN',
  argHelp: [['SPAN', 'span number']],
  options: { dir: DIR_OPTION },
  positionals: [1, 1],
  async run({ values, positionals, io }) {
    const span = parseIntArg(uncable, 'SPAN', positionals[0]);
    await new SimClient(simDir(values)).uncable(span);
    io.out(`span ${span} uncabled\n`);
    return 0;
  },
};

const fault: Command = {
  name: 'sim fault',
  summary: 'Inject a line fault on a span, or clear every fault.',
  args: 'SPAN los|ais|rai|errors RATE|slip PPM|clear',
  argHelp: [
    ['SPAN', 'span number'],
    [
      'los',
      'loss of signal: the receive pair at this span is pulled (RED here, YELLOW at the far end)',
    ],
    ['ais', 'alarm indication signal, all ones (this span goes BLUE)'],
    ['rai', 'remote alarm indication from the far end (this span goes YELLOW)'],
    [
      'errors RATE',
      'bit errors at RATE per bit, 0 to 1 (e.g. 1e-5): BPV, CRC-4 and FAS counts rise',
    ],
    ['slip PPM', 'far-end clock offset in parts per million: the span slips frames'],
    ['clear', 'remove every fault from the span'],
  ],
  options: { dir: DIR_OPTION },
  positionals: [2, 3],
  async run({ values, positionals, io }) {
    const span = parseIntArg(fault, 'SPAN', positionals[0]);
    const kind = positionals[1];
    const value = positionals[2];
    let f: SimFault;
    switch (kind) {
      case 'los':
      case 'ais':
      case 'rai':
      case 'clear':
        if (value !== undefined) throw usageError(fault, `${kind} takes no value, got "${value}"`);
        f = { fault: kind };
        break;
      case 'errors': {
        const rate = parseNumberArg(fault, 'RATE', value);
        if (rate < 0 || rate > 1)
          throw usageError(fault, `RATE is a bit error rate from 0 to 1, not ${value}`);
        f = { fault: 'errors', rate };
        break;
      }
      case 'slip':
        f = { fault: 'slip', ppm: parseNumberArg(fault, 'PPM', value) };
        break;
      default:
        throw usageError(
          fault,
          `unknown fault "${kind}": use los, ais, rai, errors RATE, slip PPM or clear`,
        );
    }
    await new SimClient(simDir(values)).fault(span, f);
    io.out(
      kind === 'clear'
        ? `span ${span}: faults cleared\n`
        : `span ${span}: ${[kind, value].filter(Boolean).join(' ')} injected\n`,
    );
    return 0;
  },
};

/** Exit code of a child the way a shell reports it (128 + signal number when killed). */
function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

const run: Command = {
  name: 'sim run',
  summary: 'Run a program with its DAHDI calls routed to the simulator (LD_PRELOAD).',
  args: '-- CMD [ARGS...]',
  argHelp: [
    ['CMD', 'program to run, e.g. dahdi_cfg, dahdi_scan, dahdi_test, r2test'],
    ['ARGS', 'its arguments (after `--`, so that its options are not read as ours)'],
  ],
  options: { dir: DIR_OPTION },
  positionals: [1, Number.MAX_SAFE_INTEGER],
  details:
    'CMD gets LD_PRELOAD=<abs path of native/sim/build/libdahdisim.so> and SWITCHBOARD_SIM_DIR,\ninherits stdin/stdout/stderr, and its exit code becomes ours.\nExample: switchboard sim run -- dahdi_scan',
  async run({ values, positionals }) {
    const dir = simDir(values);
    const env = simEnv(dir);
    if (!(await new SimClient(dir).isUp()))
      throw new SwitchboardError(
        'E_SIM_NOT_RUNNING',
        `no simulator is running in ${dir} (start one with \`switchboard sim up\`)`,
      );
    const [cmd, ...args] = positionals as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    // The terminal sends Ctrl-C to the child too; we only wait for it to finish.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', forward);
    try {
      return await new Promise<number>((ok, fail) => {
        child.once('error', (err: NodeJS.ErrnoException) =>
          fail(
            new SwitchboardError(
              'E_COMMAND',
              err.code === 'ENOENT'
                ? `command not found: ${cmd}`
                : `cannot run ${cmd}: ${err.message}`,
            ),
          ),
        );
        child.once('exit', (code, signal) => ok(exitCode(code, signal)));
      });
    } finally {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', forward);
    }
  },
};

export const simCommands: Command[] = [up, down, status, cable, uncable, fault, run];
