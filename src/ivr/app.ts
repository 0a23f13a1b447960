// SPDX-License-Identifier: GPL-2.0-or-later
// The IVR app: a call routed to {type: 'ivr', flow} runs the flow's active version, is logged, and is cleared at the end.

import { CAUSES, causeName } from '../calls/cause.ts';
import type { AppHandler } from '../calls/manager.ts';
import {
  type FlowLogEntry,
  type FlowLogger,
  type FlowServices,
  type RunOptions,
  runFlow,
} from './runtime.ts';
import type { FlowStore } from './store.ts';
import type { ActiveFlow } from './validate.ts';

export interface IvrAppDeps {
  store: FlowStore;
  /** Everything a flow uses but other flows, which come from `store` (their active versions). */
  services: Omit<FlowServices, 'loadFlow'>;
  /** The app's own log lines (flow missing, flow done); a pino child logger fits. */
  log: FlowLogger;
  /** Runtime limits (loop guard, nesting, media timeout); see RunOptions. */
  run?: Omit<RunOptions, 'onStep'>;
}

/**
 * Cause for a route whose flow does not exist: 3 NO_ROUTE_DESTINATION. The number is valid and
 * was routed, but the destination it was routed to is not there, which is what the call manager
 * answers when no IVR handler is registered at all, so one misconfiguration gives the carrier
 * one cause. (1 UNALLOCATED would tell the caller the number does not exist; 41 would invite
 * retries that cannot succeed until an installer acts.)
 */
export const FLOW_MISSING_CAUSE = CAUSES.NO_ROUTE_DESTINATION;

/**
 * Cause for a stored flow that no longer passes the checks (saved by older firmware): 41
 * NORMAL_TEMPORARY_FAILURE, the switch's own failure, as when a step of a flow fails.
 */
export const FLOW_BROKEN_CAUSE = CAUSES.NORMAL_TEMPORARY_FAILURE;

function errorEntry(flow: string, at: Date, error: string, cause: number): FlowLogEntry {
  return {
    seq: 1,
    flow,
    version: 0,
    node: '',
    type: 'error',
    at: at.toISOString(),
    ms: 0,
    input: {},
    output: { error, cause, causeName: causeName(cause) },
  };
}

/**
 * The handler the call manager runs for `ivr` destinations. Each call takes the active version
 * of its flow when it arrives and keeps it to the end, whatever is saved meanwhile; a transfer
 * to another flow takes that flow's active version when the transfer happens.
 */
export function ivrApp(deps: IvrAppDeps): AppHandler {
  const { store, log } = deps;
  const loadFlow = (name: string): ActiveFlow | undefined => {
    try {
      return store.active(name);
    } catch (err) {
      log.error({ err, flow: name }, `flow ${name} is stored but no longer valid`);
      return undefined;
    }
  };
  return async (call, destination) => {
    const name = destination.type === 'ivr' ? destination.flow : destination.queue;
    const writer = store.logWriter(call.id);
    const release = async (cause: number) => {
      if (call.signal.aborted) return;
      try {
        await call.release(cause);
      } catch (err) {
        log.warn({ err, call: call.id }, 'releasing the call at the end of its flow failed');
      }
    };
    try {
      let flow: ActiveFlow | undefined;
      let cause: number = FLOW_MISSING_CAUSE;
      try {
        flow = destination.type === 'ivr' ? store.active(name) : undefined;
      } catch (err) {
        cause = FLOW_BROKEN_CAUSE;
        log.error({ err, call: call.id, flow: name }, `flow ${name} is stored but no longer valid`);
      }
      if (!flow) {
        const error =
          cause === FLOW_MISSING_CAUSE
            ? `there is no flow "${name}"`
            : `flow "${name}" no longer passes the checks`;
        log.warn({ call: call.id, flow: name, cause }, `${error}: the call is cleared`);
        writer.append(errorEntry(name, deps.services.clock.now(), error, cause));
        await release(cause);
        return;
      }
      const result = await runFlow(
        call,
        flow,
        { ...deps.services, loadFlow },
        { ...deps.run, onStep: (e) => writer.append(e) },
      );
      log.info(
        {
          call: call.id,
          flow: flow.name,
          version: flow.version,
          end: result.end,
          cause: result.cause,
          steps: result.log.length,
        },
        `flow ${flow.name} ended: ${result.end}`,
      );
      if (result.end !== 'aborted') await release(result.cause);
    } finally {
      try {
        writer.flush();
      } catch (err) {
        log.error({ err, call: call.id }, 'writing the flow log failed');
      }
    }
  };
}
