/**
 * Every proxied request still running, by agent, so that a kill-stream entry can abort the agent's
 * in-flight requests and open streams at once, shutdown can wait for (or cut) what is left, and a call
 * whose upstream stalls past its deadline is cut (the upstream timeout).
 *
 * This is on every request's path, so tracking allocates nothing: each agent's calls form a doubly linked
 * list threaded through the calls themselves, and an agent's list head stays in the map while the agent is
 * busy (it is pruned after a minute idle). A Set per agent, added and deleted with each request, made the
 * hash tables of the long-lived map grow and shrink under load: tables that outlived the young generation
 * and became old-generation garbage (bench: about a third of what the proxy promoted).
 *
 * Upstream timeouts are kept here too (`timeoutMs`), checked by one sweep of the lists every `sweepMs`, instead of undici's
 * per-request timers: undici's timers for long delays are objects that live until its next 1-second tick,
 * so every request promoted two of them into the old generation.
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

/** The upstream sent nothing (no headers, or no body bytes) for the timeout. */
export class UpstreamTimeout extends Error {
  override name = "UpstreamTimeout";
}

/**
 * A running call that can be cut. `abort` is idempotent; `finished` turns true once it is over. The
 * `deadline` (ms, Date.now clock) is when the sweep cuts it with an UpstreamTimeout; the call moves it
 * forward as the upstream makes progress (Infinity: never). The link fields belong to InFlight.
 */
export interface InFlightCall {
  readonly agentId: string;
  readonly finished: boolean;
  deadline: number;
  abort(reason: Error): void;
  inFlightPrev: InFlightCall | undefined;
  inFlightNext: InFlightCall | undefined;
}

/** One agent's calls: the head of its list. */
interface AgentCalls {
  head: InFlightCall | undefined;
  size: number;
  /** Date.now() when the list became empty (for pruning). */
  idleSince: number;
}

export interface InFlightOptions {
  /** Upstream timeout, ms: a call whose upstream makes no progress for this long is cut. Undefined: none. */
  timeoutMs?: number;
  /** How often deadlines are checked, ms. Default: a few times per `timeoutMs`, at most once a second. */
  sweepMs?: number;
  /** An agent's empty list is dropped after this long idle, ms (default 60 s). */
  pruneIdleMs?: number;
}

export class InFlight {
  readonly #byAgent = new Map<string, AgentCalls>();
  readonly #pruneIdleMs: number;
  #count = 0;
  #drained: (() => void) | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  readonly #timeoutMs: number;

  constructor(options: InFlightOptions = {}) {
    this.#pruneIdleMs = options.pruneIdleMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
    const sweepMs =
      options.sweepMs ??
      (options.timeoutMs === undefined ? undefined : Math.min(1000, Math.max(20, Math.floor(options.timeoutMs / 5))));
    if (sweepMs !== undefined) {
      this.#sweeper = setInterval(() => this.sweep(Date.now()), sweepMs);
      this.#sweeper.unref();
    }
  }

  /** The deadline of a call whose upstream made progress just now (or started). */
  deadlineFromNow(): number {
    return Date.now() + this.#timeoutMs;
  }

  /** Tracks one call until `done` is called for it (once per tracked call). */
  track(call: InFlightCall): void {
    let agent = this.#byAgent.get(call.agentId);
    if (agent === undefined) {
      agent = { head: undefined, size: 0, idleSince: 0 };
      this.#byAgent.set(call.agentId, agent);
    }
    call.inFlightPrev = undefined;
    call.inFlightNext = agent.head;
    if (agent.head !== undefined) agent.head.inFlightPrev = call;
    agent.head = call;
    agent.size++;
    this.#count++;
  }

  done(call: InFlightCall): void {
    const agent = this.#byAgent.get(call.agentId);
    if (agent === undefined) return;
    const { inFlightPrev: prev, inFlightNext: next } = call;
    if (prev !== undefined) prev.inFlightNext = next;
    else if (agent.head === call) agent.head = next;
    else return; // not tracked (or already done)
    if (next !== undefined) next.inFlightPrev = prev;
    call.inFlightPrev = undefined;
    call.inFlightNext = undefined;
    if (--agent.size === 0) agent.idleSince = Date.now();
    this.#count--;
    if (this.#count === 0) this.#drained?.();
  }

  /** The agent's calls now (a copy: aborting a call unlinks it). */
  #callsOf(agent: AgentCalls): InFlightCall[] {
    const calls: InFlightCall[] = [];
    for (let call = agent.head; call !== undefined; call = call.inFlightNext) calls.push(call);
    return calls;
  }

  /** Aborts every in-flight call of the agent; returns how many were aborted. */
  abortAgent(agentId: string, code: ProxyErrorCode): number {
    const agent = this.#byAgent.get(agentId);
    if (agent === undefined || agent.head === undefined) return 0;
    const reason = new AbortReason(code);
    let n = 0;
    for (const call of this.#callsOf(agent)) {
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

  /** Cuts the calls past their deadline and drops agents idle for `pruneIdleMs`. Returns how many were cut. */
  sweep(now: number): number {
    let cut = 0;
    for (const [agentId, agent] of this.#byAgent) {
      if (agent.head === undefined) {
        if (now - agent.idleSince >= this.#pruneIdleMs) this.#byAgent.delete(agentId);
        continue;
      }
      const late: InFlightCall[] = [];
      for (let call: InFlightCall | undefined = agent.head; call !== undefined; call = call.inFlightNext) {
        if (call.deadline <= now && !call.finished) late.push(call);
      }
      for (const call of late) call.abort(new UpstreamTimeout("the upstream sent nothing for the timeout"));
      cut += late.length;
    }
    return cut;
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

  /** Stops the deadline sweep (shutdown). */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
