// SPDX-License-Identifier: GPL-2.0-or-later
// GET /metrics: the switch's Prometheus metrics, behind a login like every route (scrape with a viewer API token).

import type { FastifyPluginAsync } from 'fastify';
import './types.ts';

/** What the plugin serves: the text exposition and its content type. */
export interface MetricsPort {
  contentType: string;
  text(): Promise<string>;
}

export const metricsPlugin: FastifyPluginAsync<{ metrics: MetricsPort }> = async (
  app,
  { metrics },
) => {
  app.get(
    '/metrics',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'Prometheus metrics: span alarms and error counters, channels by state, links, calls by result and cause, call setup time, MQTT outbox, process',
        description:
          'Prometheus scrapes it with `authorization: Bearer <viewer API token>` (scrape_config `authorization: {credentials: ...}`).',
        tags: ['status'],
        produces: ['text/plain'],
      },
    },
    async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()),
  );
};
