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

export class InFlight {
  readonly #byAgent = new Map<string, Set<AbortController>>();
  #count = 0;
  #drained: (() => void) | undefined;

  /** Tracks one request; call the returned function when it has finished (idempotent). */
  track(agentId: string, controller: AbortController): () => void {
    let set = this.#byAgent.get(agentId);
    if (set === undefined) {
      set = new Set();
      this.#byAgent.set(agentId, set);
    }
    set.add(controller);
    this.#count++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#count--;
      const current = this.#byAgent.get(agentId);
      if (current !== undefined) {
        current.delete(controller);
        if (current.size === 0) this.#byAgent.delete(agentId);
      }
      if (this.#count === 0) this.#drained?.();
    };
  }

  /** Aborts every in-flight request of the agent; returns how many were aborted. */
  abortAgent(agentId: string, code: ProxyErrorCode): number {
    const set = this.#byAgent.get(agentId);
    if (set === undefined) return 0;
    const reason = new AbortReason(code);
    let n = 0;
    for (const controller of [...set]) {
      if (!controller.signal.aborted) {
        controller.abort(reason);
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
