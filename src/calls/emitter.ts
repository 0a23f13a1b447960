// SPDX-License-Identifier: GPL-2.0-or-later
// A small typed event emitter (no Node import): a listener that throws is reported, never breaks the emitter.

/** Event name -> the arguments its listeners get. */
export type EventMap = Record<string, unknown[]>;

export class TypedEmitter<M extends EventMap> {
  readonly #listeners = new Map<keyof M, Set<(...args: never[]) => void>>();
  readonly #onError: (event: keyof M, err: unknown) => void;

  /** @param onError gets what a listener threw (the manager logs it); default: rethrown later */
  constructor(onError?: (event: keyof M, err: unknown) => void) {
    this.#onError =
      onError ??
      ((_event, err) => {
        queueMicrotask(() => {
          throw err;
        });
      });
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof M>(event: K, listener: (...args: M[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as unknown as (...args: never[]) => void);
    return () => this.off(event, listener);
  }

  off<K extends keyof M>(event: K, listener: (...args: M[K]) => void): void {
    this.#listeners.get(event)?.delete(listener as unknown as (...args: never[]) => void);
  }

  /** Calls every listener of `event` in the order they were added. */
  emit<K extends keyof M>(event: K, ...args: M[K]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        (listener as unknown as (...a: M[K]) => void)(...args);
      } catch (err) {
        this.#onError(event, err);
      }
    }
  }
}
