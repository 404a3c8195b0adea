/**
 * The gateway's local deny set: agents the kill stream announced, answered before any Redis round trip
 * (and still answered while Redis is down). Kills are permanent; suspensions are held until their deny
 * key's TTL would have run out, after which Redis (the deny key) decides again.
 */
import type { DenyCode } from "../store/denyKey.ts";

interface Entry {
  code: DenyCode;
  /** ms epoch after which the entry no longer applies (Infinity for kills). */
  until: number;
}

export class LocalDenySet {
  readonly #entries = new Map<string, Entry>();

  /** Records a denial; a kill is never weakened by a later suspension (mirrors the add-only deny keys). */
  add(agentId: string, code: DenyCode, until = Number.POSITIVE_INFINITY): void {
    const current = this.#entries.get(agentId);
    if (current !== undefined && current.until >= until) return;
    this.#entries.set(agentId, { code, until });
  }

  /** The denial code for the agent at `now`, if any. */
  get(agentId: string, now = Date.now()): DenyCode | undefined {
    if (this.#entries.size === 0) return undefined;
    const entry = this.#entries.get(agentId);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(agentId);
      return undefined;
    }
    return entry.code;
  }

  get size(): number {
    return this.#entries.size;
  }
}
