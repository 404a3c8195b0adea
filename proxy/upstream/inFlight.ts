/**
 * Every proxied request still running, by agent, so that a kill-stream entry can abort the agent's
 * in-flight requests and open streams at once, and shutdown can wait for (or cut) what is left.
 */
import type { ProxyErrorCode } from "../errors.ts";

/** Why a request was cut: the code the client is told. */
export class AbortReason extends Error {
  override name = "AbortReason";
  readonly code: ProxyErrorCode;
  constructor(code: ProxyErrorCode) {
    super(`request aborted: ${code}`);
    this.code = code;
  }
}

/** A running call that can be cut. `abort` is idempotent; `finished` turns true once it is over. */
export interface Abortable {
  readonly finished: boolean;
  abort(reason: AbortReason): void;
}

export class InFlight {
  readonly #byAgent = new Map<string, Set<Abortable>>();
  #count = 0;
  #drained: (() => void) | undefined;

  /** Tracks one call until `done` is called for it (once per tracked call). */
  track(agentId: string, call: Abortable): void {
    let set = this.#byAgent.get(agentId);
    if (set === undefined) {
      set = new Set();
      this.#byAgent.set(agentId, set);
    }
    set.add(call);
    this.#count++;
  }

  done(agentId: string, call: Abortable): void {
    const set = this.#byAgent.get(agentId);
    if (set === undefined || !set.delete(call)) return;
    if (set.size === 0) this.#byAgent.delete(agentId);
    this.#count--;
    if (this.#count === 0) this.#drained?.();
  }

  /** Aborts every in-flight call of the agent; returns how many were aborted. */
  abortAgent(agentId: string, code: ProxyErrorCode): number {
    const set = this.#byAgent.get(agentId);
    if (set === undefined) return 0;
    const reason = new AbortReason(code);
    let n = 0;
    for (const call of [...set]) {
      if (!call.finished) {
        call.abort(reason);
        n++;
      }
    }
    return n;
  }

  /** Aborts everything (shutdown after the grace period). */
  abortAll(code: ProxyErrorCode): number {
    let n = 0;
    for (const agentId of [...this.#byAgent.keys()]) n += this.abortAgent(agentId, code);
    return n;
  }

  get size(): number {
    return this.#count;
  }

  /** Resolves when nothing is in flight (or at once if nothing is). */
  drained(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#drained;
      this.#drained = () => {
        this.#drained = undefined;
        previous?.();
        resolve();
      };
    });
  }
}
