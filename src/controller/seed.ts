// SPDX-License-Identifier: GPL-2.0-or-later
// Installs the flows and campaigns of a seed directory on a box that has none yet (the demo of `switchboard start`).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';
import { importContacts } from '../dialer/contacts.ts';
import type { Dialer } from '../dialer/dialer.ts';
import type { DialerStore } from '../dialer/store.ts';
import type { FlowStore } from '../ivr/store.ts';
import type { FlowContext } from '../ivr/validate.ts';
import { parseConfigText, readConfigText } from '../runtime/config-file.ts';

/**
 * A campaign file of a seed directory: the campaign document plus where its contacts come from
 * and whether it starts at once.
 */
interface SeedCampaign {
  campaign: unknown;
  contacts?: { file: string; format?: 'csv' | 'txt'; mapping?: Record<string, unknown> };
  start?: boolean;
}

export interface SeedDeps {
  flows: FlowStore;
  flowContext: () => FlowContext;
  dialer: Dialer;
  dialerStore: DialerStore;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

function yamlFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/**
 * `<dir>/flows/*.yaml` are saved as IVR flows and `<dir>/campaigns/*.yaml` created as campaigns,
 * each only when the store has nothing of that name: an installer's own flows and campaigns
 * are never replaced, and a restart installs nothing twice.
 * @throws SwitchboardError (E_CONFIG_FILE, E_FLOW_INVALID, E_CAMPAIGN_FIELD...) naming the file
 */
export async function installSeed(dir: string, d: SeedDeps): Promise<void> {
  for (const file of yamlFiles(join(dir, 'flows'))) {
    const doc = parseConfigText(readConfigText(file), file) as { name?: unknown };
    if (typeof doc?.name === 'string' && d.flows.exists(doc.name)) continue;
    const saved = d.flows.save(doc, { author: 'system', comment: `seed ${file}` }, d.flowContext());
    d.log.info({ flow: saved.info.name, version: saved.info.version, file }, 'seed flow installed');
  }
  for (const file of yamlFiles(join(dir, 'campaigns'))) {
    const seed = parseConfigText(readConfigText(file), file) as SeedCampaign;
    const name = (seed?.campaign as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string')
      throw new SwitchboardError('E_CONFIG_FILE', `${file}: campaign.name: is missing`, {
        details: { file, field: 'campaign.name' },
      });
    if (d.dialerStore.campaign(name)) continue;
    d.dialer.create(seed.campaign);
    if (seed.contacts) {
      const list = resolve(dirname(file), seed.contacts.file);
      const { contacts, report } = await importContacts(readFileSync(list), {
        format: seed.contacts.format ?? 'csv',
        ...(seed.contacts.mapping ? { mapping: seed.contacts.mapping as never } : {}),
      });
      d.dialer.addContacts(name, contacts);
      if (report.invalid.length + report.duplicates.length > 0)
        d.log.warn(
          { campaign: name, file: list, report },
          'seed contacts: some rows were not imported',
        );
    }
    if (seed.start) d.dialer.start(name);
    d.log.info({ campaign: name, file, started: seed.start === true }, 'seed campaign installed');
  }
}
