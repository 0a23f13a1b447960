// SPDX-License-Identifier: GPL-2.0-or-later
// The box's health from systeminformation: CPU, memory, disk, temperatures and uptime, for the API and MQTT.

import { type Static, Type } from '@sinclair/typebox';
import si from 'systeminformation';

export const Health = Type.Object(
  {
    at: Type.String({ format: 'date-time', description: 'when it was read' }),
    uptimeS: Type.Number({ description: 'seconds since the box booted' }),
    processUptimeS: Type.Number({ description: 'seconds since the controller started' }),
    cpu: Type.Object({
      loadPercent: Type.Number({ description: 'all cores, since the previous reading' }),
      cores: Type.Integer(),
      load1: Type.Number({ description: 'load average over one minute' }),
    }),
    memory: Type.Object({
      totalBytes: Type.Number(),
      availableBytes: Type.Number(),
      usedPercent: Type.Number(),
      processRssBytes: Type.Number({ description: "the controller's resident memory" }),
    }),
    disks: Type.Array(
      Type.Object({
        mount: Type.String(),
        sizeBytes: Type.Number(),
        usedBytes: Type.Number(),
        usedPercent: Type.Number(),
      }),
    ),
    temperatures: Type.Object({
      cpuC: Type.Union([Type.Number(), Type.Null()], {
        description: 'main CPU temperature, null where the board has no sensor',
      }),
      maxC: Type.Union([Type.Number(), Type.Null()]),
    }),
  },
  { $id: 'Health', additionalProperties: false },
);
export type Health = Static<typeof Health>;

/** Mount points worth reporting: the root and the data partition, when they exist. */
const MOUNTS = new Set(['/', '/data', '/var/lib/switchboard']);

function round(n: number, places = 1): number {
  const f = 10 ** places;
  return Math.round(n * f) / f;
}

/**
 * One reading. A sensor systeminformation cannot read (no thermal zone in a VM) is null, never an
 * error: health is reported whatever the board offers.
 */
export async function readHealth(): Promise<Health> {
  const [load, mem, disks, temp, time] = await Promise.all([
    si.currentLoad(),
    si.mem(),
    si.fsSize().catch(() => []),
    si.cpuTemperature().catch(() => ({ main: null, max: null })),
    Promise.resolve(si.time()),
  ]);
  const temperature = (v: number | null | undefined) =>
    typeof v === 'number' && Number.isFinite(v) && v > 0 ? round(v) : null;
  return {
    at: new Date().toISOString(),
    uptimeS: Math.round(Number(time.uptime)),
    processUptimeS: Math.round(process.uptime()),
    cpu: {
      loadPercent: round(load.currentLoad),
      cores: load.cpus.length,
      load1: round(load.avgLoad, 2),
    },
    memory: {
      totalBytes: mem.total,
      availableBytes: mem.available,
      usedPercent: round(((mem.total - mem.available) / mem.total) * 100),
      processRssBytes: process.memoryUsage().rss,
    },
    disks: disks
      .filter((d) => MOUNTS.has(d.mount))
      .map((d) => ({
        mount: d.mount,
        sizeBytes: d.size,
        usedBytes: d.used,
        usedPercent: round(d.use),
      })),
    temperatures: { cpuC: temperature(temp.main), maxC: temperature(temp.max) },
  };
}
