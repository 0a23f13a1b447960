// SPDX-License-Identifier: GPL-2.0-or-later
// The box's serial number as the firmware can read it (device tree, DMI), for the default MQTT node id.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Where boards keep a serial number: ARM device trees, then the PC's DMI tables (root only). */
const SERIAL_FILES = [
  '/proc/device-tree/serial-number',
  '/sys/firmware/devicetree/base/serial-number',
  '/sys/class/dmi/id/product_serial',
  '/sys/class/dmi/id/board_serial',
];

/** Placeholders firmware vendors leave in DMI instead of a serial number. */
const NOT_A_SERIAL =
  /^(|0+|none|n\/a|default string|not specified|not applicable|system serial number|to be filled by o\.e\.m\.|0123456789|123456789)$/i;

/** The first real serial number found, else undefined. */
export function boxSerial(files: readonly string[] = SERIAL_FILES): string | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    // Device-tree strings end in NUL.
    const serial = text.replace(/\0/g, '').trim();
    if (!NOT_A_SERIAL.test(serial)) return serial;
  }
  return undefined;
}

/** The serial number and host name of this box. */
export function boxIdentity(): { serial?: string; hostname: string } {
  const serial = boxSerial();
  return { ...(serial !== undefined ? { serial } : {}), hostname: hostname() };
}
