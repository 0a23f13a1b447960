// SPDX-License-Identifier: GPL-2.0-or-later
// The files the `mqtt` section names (password, TLS), checked on this box when a configuration is applied.

import { accessSync, constants } from 'node:fs';
import type { FieldError } from '../core/schema.ts';
import type { MqttConfig } from './config.ts';

/**
 * Files the section names that this box cannot read. Checked when a configuration is applied,
 * not by `switchboard config check`, which may run on another machine.
 */
export function mqttFileErrors(c: MqttConfig | undefined): FieldError[] {
  const out: FieldError[] = [];
  const files: [string, string | undefined][] = [
    ['mqtt.passwordFile', c?.passwordFile],
    ['mqtt.tls.ca', c?.tls?.ca],
    ['mqtt.tls.cert', c?.tls?.cert],
    ['mqtt.tls.key', c?.tls?.key],
  ];
  for (const [path, file] of files) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      out.push({
        path,
        message: `cannot read ${file} on this box (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      });
    }
  }
  return out;
}
