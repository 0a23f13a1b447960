// SPDX-License-Identifier: GPL-2.0-or-later
// The topic tree under <baseTopic>/<nodeId>/: names of every topic the bridge publishes or reads.

/** Topics relative to `<base>/<node>/`. */
export const TOPICS = {
  state: 'bridge/state',
  info: 'bridge/info',
  health: 'bridge/health',
  span: (span: number) => `span/${span}`,
  channel: (span: number, channel: number) => `channel/${span}/${channel}`,
  callEvent: 'call/event',
  cdr: 'cdr',
  request: (command: string) => `bridge/request/${command}`,
  response: (command: string) => `bridge/response/${command}`,
} as const;

/** The topics of one box: `<base>/<node>/...`. */
export class TopicTree {
  readonly prefix: string;

  constructor(
    readonly base: string,
    readonly node: string,
  ) {
    this.prefix = `${base}/${node}/`;
  }

  /** The full topic of a relative one (`span/1` -> `switchboard/box1/span/1`). */
  full(relative: string): string {
    return this.prefix + relative;
  }

  /** Every request topic: what the bridge subscribes to. */
  get requests(): string {
    return `${this.prefix}bridge/request/+`;
  }

  /** The command a request topic names, or undefined when `topic` is not one of ours. */
  requestCommand(topic: string): string | undefined {
    const head = `${this.prefix}bridge/request/`;
    if (!topic.startsWith(head)) return undefined;
    const command = topic.slice(head.length);
    return command === '' || command.includes('/') ? undefined : command;
  }

  /** True for `<base>/<node>/bridge/request/...` at any depth (what clients may publish). */
  isRequest(topic: string): boolean {
    return topic.startsWith(`${this.prefix}bridge/request/`);
  }
}
