// SPDX-License-Identifier: GPL-2.0-or-later
// The DAHDI configuration of the carrier's own spans: CCS for PRI, CAS for MFC-R2, applied span by span.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';
import type { EngineTrunk } from '../native/engine.ts';
import { dahdiCfg } from '../runtime/dahdi-tools.ts';
import { simEnv } from '../sim/daemon.ts';
import { channelList } from '../sim/dahdiconf.ts';
import { timeslotList } from '../trunks/pri.ts';

/** A span as the simulator reports it (SimSpanStatus has these fields). */
export interface BoardSpan {
  span: number;
  type: 'E1' | 'T1' | 'analog';
  /** First DAHDI channel number of the span. */
  basechan: number;
  channels: number;
}

/** The system.conf of one carrier span, and the channel range dahdi_cfg -C must cover. */
export interface SpanConf {
  span: number;
  /** "94-124": every channel of the span, so that what the file leaves out is unconfigured. */
  channels: string;
  conf: string;
}

/**
 * system.conf lines for the spans of PRI and MFC-R2 trunks (the carrier's; a test's switch side
 * too). Timing priority 0: the carrier is the network and never takes its clock from the switch.
 * SS7 and analog trunks are left out: their spans stay as the board's system.conf has them.
 */
export function renderSpanConfs(trunks: EngineTrunk[], board: BoardSpan[]): SpanConf[] {
  const out: SpanConf[] = [];
  trunks.forEach((trunk, i) => {
    if (!['pri_net', 'pri_cpe', 'mfcr2'].includes(trunk.signalling)) return;
    const t = trunk as EngineTrunk & {
      span: number;
      dchannel?: number;
      bchannels?: string | number[];
      channels?: string | number[];
    };
    const span = board.find((s) => s.span === t.span);
    if (!span || span.type === 'analog')
      throw new SwitchboardError(
        'E_CONFIG_FIELD',
        `trunks[${i}].span: span ${t.span} is not an E1/T1 span of the simulated board`,
        { details: [{ path: `trunks[${i}].span`, message: 'not an E1/T1 span of the board' }] },
      );
    const chan = (ts: number) => span.basechan + ts - 1;
    const all = `${span.basechan}-${span.basechan + span.channels - 1}`;
    const e1 = span.type === 'E1';
    const lines = [`# carrier trunk ${t.name} (${t.signalling}) on span ${t.span}`];
    if (t.signalling === 'mfcr2') {
      if (!e1)
        throw new SwitchboardError(
          'E_CONFIG_FIELD',
          `trunks[${i}].span: span ${t.span} is a T1 span; MFC-R2 runs on E1 spans`,
          { details: [{ path: `trunks[${i}].span`, message: 'MFC-R2 runs on E1 spans' }] },
        );
      const slots = t.channels ? timeslotList(t.channels) : timeslotList('1-15,17-31');
      lines.push(`span=${t.span},0,0,cas,hdb3`, `cas=${channelList(slots.map(chan))}:1101`);
    } else {
      const dchannel = t.dchannel ?? (e1 ? 16 : 24);
      const slots = t.bchannels
        ? timeslotList(t.bchannels)
        : Array.from({ length: span.channels }, (_, k) => k + 1).filter((ts) => ts !== dchannel);
      lines.push(
        e1 ? `span=${t.span},0,0,ccs,hdb3,crc4` : `span=${t.span},0,0,esf,b8zs`,
        `bchan=${channelList(slots.map(chan))}`,
        `hardhdlc=${chan(dchannel)}`,
      );
    }
    out.push({ span: t.span, channels: all, conf: `${lines.join('\n')}\n` });
  });
  return out;
}

/**
 * Applies each span's configuration with the real dahdi_cfg, one span at a time
 * (`-S SPAN -C CHANNELS`), leaving every other span (the switch's) as it is.
 * @throws SwitchboardError E_DAHDI_CFG with dahdi_cfg's own words
 */
export function applySpanConfs(dir: string, spans: SpanConf[]): void {
  const cfg = dahdiCfg();
  for (const s of spans) {
    const file = join(dir, `span${s.span}.conf`);
    writeFileSync(file, s.conf);
    const r = spawnSync(cfg, ['-S', String(s.span), '-C', s.channels, '-c', file], {
      env: simEnv(dir),
      encoding: 'utf8',
    });
    if (r.error || r.status !== 0)
      throw new SwitchboardError(
        'E_DAHDI_CFG',
        `dahdi_cfg -S ${s.span} -C ${s.channels} -c ${file} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}): ${`${r.stdout ?? ''}${r.stderr ?? ''}`.trim()}`,
      );
  }
}
