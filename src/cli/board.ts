// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard board ...`: the board definitions, and a simulated board MCU on a serial device.

import { createInterface } from 'node:readline';
import {
  BAUD_RATES,
  boardModelIds,
  DEFAULT_BOARD_MODEL,
  loadBoardModel,
  modelSpans,
} from '../board/model.ts';
import { makePtyPair, type PtyPair } from '../board/pty.ts';
import { ledText, openSimMcu, type SimMcu } from '../board/sim-mcu.ts';
import { isSwitchboardError } from '../core/errors.ts';
import { logger } from '../runtime/log.ts';
import { type Command, parseIntArg, stringValue, usageError } from './command.ts';

const list: Command = {
  name: 'board list',
  summary: 'list the board definitions (board/models/*.yaml): model, spans, MCU serial device',
  options: {},
  async run({ io }) {
    for (const id of boardModelIds()) {
      const m = loadBoardModel(id);
      const spans = modelSpans(m)
        .map((s) => `${s.span}:${s.type}`)
        .join(' ');
      const dev = m.controller.device ?? 'none (simulated MCU on a pty)';
      io.out(`${id}\t${m.name}\t${spans}\tMCU ${dev} ${m.controller.baudRate} bit/s\n`);
    }
    return 0;
  },
};

const check: Command = {
  name: 'board check',
  summary: 'check a board definition (YAML) without using it, one line per refused field',
  args: 'FILE',
  positionals: [1, 1],
  options: {},
  async run({ positionals, io }) {
    const file = positionals[0] as string;
    try {
      const m = loadBoardModel(file.includes('/') ? file : `./${file}`);
      io.out(
        `${file}: valid (model ${m.id}, ${m.cards.length} cards, ${m.spans.length} spans, ${m.controller.leds} LEDs)\n`,
      );
      return 0;
    } catch (err) {
      if (!isSwitchboardError(err, 'E_CONFIG_FIELD')) throw err;
      for (const d of err.details as { path: string; message: string }[])
        io.out(`${file}: ${d.path}: ${d.message}\n`);
      return 1;
    }
  },
};

/** One line of stdin steering the simulated MCU; returns what to print, or an error text. */
export function steerSimMcu(mcu: SimMcu, line: string): string {
  const [word, arg] = line.trim().split(/\s+/);
  switch (word) {
    case undefined:
    case '':
      return '';
    case 'silent':
      mcu.setSilent(true);
      return 'silent';
    case 'speak':
      mcu.setSilent(false);
      return 'speaking';
    case 'garble': {
      const n = Number(arg ?? '1');
      if (!Number.isInteger(n) || n < 1) return `garble N: N must be a whole number, not "${arg}"`;
      mcu.garble(n);
      return `garbling the next ${n} frames`;
    }
    case 'noise': {
      const hex = arg ?? '';
      if (!/^([0-9a-fA-F]{2})+$/.test(hex)) return `noise HEX: "${hex}" is not hex bytes`;
      mcu.inject(Buffer.from(hex, 'hex'));
      return `${hex.length / 2} bytes of noise sent`;
    }
    case 'button': {
      const n = Number(arg ?? '1');
      if (!Number.isInteger(n) || n < 0 || n > 255) return `button N: N is 0-255, not "${arg}"`;
      mcu.pressButton(n);
      return `button ${n} pressed`;
    }
    case 'reset':
      mcu.powerOn('power-on');
      return 'reset announced';
    case 'status': {
      const s = mcu.state;
      return JSON.stringify({ ...s, leds: s.leds.map(ledText) });
    }
    default:
      return `unknown command "${word}": silent, speak, garble N, noise HEX, button N, reset, status`;
  }
}

const simMcu: Command = {
  name: 'board sim-mcu',
  summary:
    'a simulated front-panel/board MCU on a serial device or a pseudo-terminal it makes with socat',
  options: {
    device: {
      type: 'string',
      arg: 'PATH',
      help: 'serial device to answer on (one end of a pseudo-terminal pair, e.g. made by socat)',
    },
    pty: {
      type: 'string',
      arg: 'LINK',
      help: 'make a pseudo-terminal pair with socat instead: the controller opens LINK (give it --board-serial LINK), the MCU answers on LINK.mcu',
    },
    model: {
      type: 'string',
      arg: 'ID',
      help: `board model whose LEDs and LCD it has (board/models/ID.yaml, or a file); default ${DEFAULT_BOARD_MODEL}`,
    },
    baud: {
      type: 'string',
      arg: 'N',
      help: "line rate, bit/s; default the model's controller.baudRate",
    },
  },
  details: [
    'Answers the board protocol (docs/board-protocol.md) as the MCU would: ACKs every frame, keeps',
    'the LEDs, the LCD and the bypass relay (closed at power-on until the controller opens it),',
    'and enforces the watchdog: without a kick for the timeout the controller set, it reports',
    'EVENT WATCHDOG_EXPIRED and closes the relay. Every change is logged as a JSON line.',
    'Lines on standard input steer it: `silent` (the UART neither hears nor speaks; the watchdog',
    'still runs), `speak`, `garble N` (damage the next N frames it sends), `noise HEX` (raw bytes',
    'onto the line), `button N`, `reset` (announce a power-on), `status`.',
    'It runs until SIGTERM or Ctrl-C.',
  ].join('\n'),
  async run({ values, io }) {
    const device = stringValue(values, 'device');
    const ptyLink = stringValue(values, 'pty');
    if ((device === undefined) === (ptyLink === undefined))
      throw usageError(simMcu, 'give exactly one of --device PATH and --pty LINK');
    const model = loadBoardModel(stringValue(values, 'model') ?? DEFAULT_BOARD_MODEL);
    const baudText = stringValue(values, 'baud');
    const baudRate =
      baudText === undefined
        ? model.controller.baudRate
        : parseIntArg(simMcu, '--baud', baudText, 1, 4_000_000);
    if (baudText !== undefined && !(BAUD_RATES as readonly number[]).includes(baudRate))
      throw usageError(simMcu, `--baud must be one of ${BAUD_RATES.join(', ')}`);
    const log = logger.child({ subsystem: 'sim-mcu' });
    let pty: PtyPair | undefined;
    if (ptyLink !== undefined) pty = await makePtyPair(ptyLink, `${ptyLink}.mcu`);
    const path = pty?.mcu ?? (device as string);
    let port: Awaited<ReturnType<typeof openSimMcu>>;
    try {
      port = await openSimMcu(path, {
        baudRate,
        leds: model.controller.leds,
        lcdRows: model.controller.lcd.rows,
        lcdColumns: model.controller.lcd.columns,
      });
    } catch (err) {
      await pty?.stop();
      throw err;
    }
    const { mcu } = port;
    for (const r of mcu.records) log.info(r, r.msg);
    mcu.on('record', (r) => {
      const { msg, ...fields } = r;
      log[msg === 'garbled' || msg === 'refused' ? 'warn' : 'info'](fields, msg);
    });
    log.info(
      { device: path, host: pty?.host, model: model.id, baudRate, leds: model.controller.leds },
      'simulated board MCU up',
    );
    // Standard input steers it; at its end (no terminal, /dev/null) the MCU just carries on.
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const text = steerSimMcu(mcu, line);
      if (text) io.out(`${text}\n`);
    });
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    rl.close();
    await port.close();
    await pty?.stop();
    log.info({ device: path }, 'simulated board MCU stopped');
    return 0;
  },
};

export const boardCommands: Command[] = [list, check, simMcu];
