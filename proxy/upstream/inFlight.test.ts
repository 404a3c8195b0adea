import { describe, expect, it } from "vitest";
import { AbortReason, InFlight, type InFlightCall, UpstreamTimeout } from "./inFlight.ts";

function fakeCall(agentId: string, deadline = Number.POSITIVE_INFINITY) {
  const call = {
    agentId,
    finished: false,
    deadline,
    reasons: [] as Error[],
    inFlightPrev: undefined as InFlightCall | undefined,
    inFlightNext: undefined as InFlightCall | undefined,
    abort(reason: Error) {
      call.reasons.push(reason);
    },
  };
  return call;
}

describe("InFlight", () => {
  it("tracks calls per agent and aborts only the named agent's", () => {
    const inFlight = new InFlight();
    const a = [fakeCall("a"), fakeCall("a"), fakeCall("a")];
    const b = fakeCall("b");
    for (const call of [...a, b]) inFlight.track(call);
    expect(inFlight.size).toBe(4);
    // Unlink from the middle, then from the head: the rest of the list stays reachable.
    inFlight.done(a[1]!);
    inFlight.done(a[2]!);
    inFlight.done(a[2]!); // twice: no effect
    expect(inFlight.size).toBe(2);
    expect(inFlight.abortAgent("a", "AGENT_KILLED")).toBe(1);
    expect(a[0]!.reasons[0]).toBeInstanceOf(AbortReason);
    expect((a[0]!.reasons[0] as AbortReason).code).toBe("AGENT_KILLED");
    expect(a[1]!.reasons).toEqual([]);
    expect(b.reasons).toEqual([]);
    expect(inFlight.abortAgent("nobody", "AGENT_KILLED")).toBe(0);
  });

  it("survives calls finishing while an abort walks the list", () => {
    const inFlight = new InFlight();
    const calls = [fakeCall("a"), fakeCall("a"), fakeCall("a")];
    for (const call of calls) {
      // A real call unlinks itself as it aborts.
      call.abort = (reason: Error) => {
        call.reasons.push(reason);
        call.finished = true;
        inFlight.done(call);
      };
      inFlight.track(call);
    }
    expect(inFlight.abortAll("SHUTTING_DOWN")).toBe(3);
    expect(inFlight.size).toBe(0);
    expect(calls.every((c) => c.reasons.length === 1)).toBe(true);
  });

  it("sweeps out calls past their deadline with an UpstreamTimeout", () => {
    const inFlight = new InFlight();
    const late = fakeCall("a", 1_000);
    const onTime = fakeCall("a", 5_000);
    const never = fakeCall("b");
    for (const call of [late, onTime, never]) inFlight.track(call);
    expect(inFlight.sweep(2_000)).toBe(1);
    expect(late.reasons[0]).toBeInstanceOf(UpstreamTimeout);
    expect(onTime.reasons).toEqual([]);
    inFlight.done(late); // the cut call ends
    onTime.deadline = 10_000; // progress moved it forward
    expect(inFlight.sweep(6_000)).toBe(0);
    expect(never.reasons).toEqual([]);
  });

  it("resolves drained when the last call is done, and keeps working after idle agents are pruned", async () => {
    const inFlight = new InFlight({ pruneIdleMs: 0 });
    const call = fakeCall("a");
    inFlight.track(call);
    let drained = false;
    const waiting = inFlight.drained().then(() => {
      drained = true;
    });
    await Promise.resolve();
    expect(drained).toBe(false);
    inFlight.done(call);
    await waiting;
    expect(drained).toBe(true);
    inFlight.sweep(Date.now() + 1); // prunes "a"
    const again = fakeCall("a");
    inFlight.track(again);
    expect(inFlight.abortAgent("a", "AGENT_SUSPENDED")).toBe(1);
  });

  it("runs its sweep on a timer until closed", async () => {
    const inFlight = new InFlight({ sweepMs: 10 });
    const call = fakeCall("a", Date.now() + 20);
    inFlight.track(call);
    try {
      const started = Date.now();
      while (call.reasons.length === 0 && Date.now() - started < 2_000) await new Promise((r) => setTimeout(r, 5));
      expect(call.reasons[0]).toBeInstanceOf(UpstreamTimeout);
    } finally {
      inFlight.close();
    }
  });
});
