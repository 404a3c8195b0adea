import { describe, expect, it } from "vitest";
import type { ProviderConnection, ProviderDirectory } from "../control/providerDirectory.ts";
import { refreshingDirectory } from "./refreshingDirectory.ts";

const agentId = `0x${"a".repeat(64)}`;

/** A directory whose loads the test settles by hand, counting them. */
function manualDirectory() {
  const loads: { name: string; resolve(v: ProviderConnection | undefined): void; reject(e: Error): void }[] = [];
  const invalidated: string[] = [];
  let cleared = 0;
  const inner: ProviderDirectory = {
    get: (_agentId, name) =>
      new Promise((resolve, reject) => {
        loads.push({ name, resolve, reject });
      }),
    invalidate: (id) => invalidated.push(id),
    clear: () => {
      cleared++;
    },
  };
  return {
    inner,
    loads,
    invalidated,
    get cleared() {
      return cleared;
    },
  };
}

const connection = (baseUrl: string): ProviderConnection => ({
  agentId,
  name: "openai",
  baseUrl,
  apiKey: "k",
  enabled: true,
  style: "openai",
});

describe("refreshing directory", () => {
  it("serves a stale entry at once while one background load refreshes it", async () => {
    let clock = 0;
    const { inner, loads } = manualDirectory();
    const dir = refreshingDirectory(inner, { freshMs: 100, staleMs: 1000, now: () => clock });
    const first = dir.get(agentId, "openai");
    loads[0]!.resolve(connection("http://a"));
    expect((await first)?.baseUrl).toBe("http://a");
    clock = 50;
    expect((await dir.get(agentId, "openai"))?.baseUrl).toBe("http://a");
    expect(loads).toHaveLength(1);
    clock = 150;
    expect((await dir.get(agentId, "openai"))?.baseUrl).toBe("http://a");
    expect((await dir.get(agentId, "openai"))?.baseUrl).toBe("http://a");
    expect(loads).toHaveLength(2);
    loads[1]!.resolve(connection("http://b"));
    await Promise.resolve();
    expect((await dir.get(agentId, "openai"))?.baseUrl).toBe("http://b");
  });

  it("makes requests wait once an entry is past its staleness, and after an invalidation", async () => {
    let clock = 0;
    const { inner, loads, invalidated } = manualDirectory();
    const dir = refreshingDirectory(inner, { freshMs: 100, staleMs: 100, now: () => clock });
    const first = dir.get(agentId, "openai");
    loads[0]!.resolve(connection("http://a"));
    await first;
    clock = 500;
    const waiting = dir.get(agentId, "openai");
    expect(loads).toHaveLength(2);
    loads[1]!.resolve(undefined);
    expect(await waiting).toBeUndefined();

    const again = dir.get(agentId, "openai");
    loads[2]?.resolve(connection("http://c"));
    // A load started before an invalidation must not be stored.
    const racing = dir.get(agentId.toUpperCase().replace("0X", "0x"), "other");
    dir.invalidate(agentId);
    expect(invalidated).toEqual([agentId]);
    loads.at(-1)!.resolve(connection("http://stale"));
    await racing;
    await again;
    const fresh = dir.get(agentId, "other");
    expect(loads.at(-1)!.name).toBe("other");
    loads.at(-1)!.resolve(connection("http://new"));
    expect((await fresh)?.baseUrl).toBe("http://new");
  });

  it("drops every agent on clear, and a load that started before cannot store", async () => {
    const other = `0x${"b".repeat(64)}`;
    const fake = manualDirectory();
    const dir = refreshingDirectory(fake.inner, { freshMs: 60_000, staleMs: 60_000 });
    for (const id of [agentId, other]) {
      const loaded = dir.get(id, "openai");
      fake.loads.at(-1)!.resolve(connection("http://old"));
      await loaded;
    }
    const racing = dir.get(agentId, "slow");
    dir.clear();
    expect(fake.cleared).toBe(1);
    fake.loads.at(-1)!.resolve(connection("http://read-before-clear"));
    await racing;
    for (const [id, name] of [
      [agentId, "openai"],
      [other, "openai"],
      [agentId, "slow"],
    ] as const) {
      const reloaded = dir.get(id, name);
      fake.loads.at(-1)!.resolve(connection("http://new"));
      expect((await reloaded)?.baseUrl).toBe("http://new");
    }
    expect(fake.loads).toHaveLength(6);
  });

  it("spreads freshness by its jitter so that entries loaded together refresh apart", async () => {
    let clock = 0;
    const draws = [0, 0.999];
    const fake = manualDirectory();
    const dir = refreshingDirectory(fake.inner, {
      freshMs: 1000,
      staleMs: 1000,
      jitter: 0.5,
      now: () => clock,
      random: () => draws.shift() ?? 0,
    });
    for (const name of ["first", "second"]) {
      const loaded = dir.get(agentId, name);
      fake.loads.at(-1)!.resolve(connection(`http://${name}`));
      await loaded;
    }
    // "first" is fresh for 1000 ms (draw 0), "second" for ~500 ms (draw ~1).
    clock = 700;
    await dir.get(agentId, "first");
    expect(fake.loads).toHaveLength(2);
    await dir.get(agentId, "second");
    expect(fake.loads).toHaveLength(3);
    expect(fake.loads.at(-1)!.name).toBe("second");
  });
});
