import type { Hex } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readDenyKey } from "../../proxy/store/denyKey.ts";
import { keys } from "../../proxy/store/keys.ts";
import { startRedis, type TestRedis } from "../../test/support/redis.ts";
import type { DeniedAgent } from "./denyRecord.ts";
import { createMirror, type Mirror } from "./mirror.ts";
import { createReconciler, type Reconciler } from "./reconciler.ts";

const identity = { chainId: 31337, genesisHash: `0x${"11".repeat(32)}` as Hex };
let redis: TestRedis;
let mirror: Mirror | undefined;
let reconciler: Reconciler | undefined;

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  reconciler?.stop();
  await mirror?.close();
  mirror = undefined;
  reconciler = undefined;
  if ((await redis.client.ping().catch(() => "down")) === "down") await redis.start();
  await redis.client.flushall();
});
afterAll(async () => {
  await redis?.close();
});

function denied(n: number, how = "revoked"): DeniedAgent {
  return {
    agentId: `0x${n.toString(16).padStart(64, "0")}`,
    how,
    initiator: "0x00000000000000000000000000000000000000aa",
    reason: "attestation revoked on EAS",
    cause: null,
    killUid: `0x${(n + 1000).toString(16).padStart(64, "0")}`,
    killBlock: 7n,
    killTx: `0x${"ee".repeat(32)}`,
    killAt: 1_700_000_000_000n,
  };
}

async function waitUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function connected(options: { onFatal?: (error: Error) => void } = {}): Promise<Mirror> {
  mirror = createMirror({ redisUrl: redis.url, timeoutMs: 1_000, identity, ...options });
  await waitUntil(async () => mirror!.verified, "the mirror to connect");
  return mirror;
}

describe("mirror and reconciler", () => {
  it("writes a deny key once and announces it once, however often it is replayed", async () => {
    const m = await connected();
    expect(await m.deny([denied(1)])).toBe(1);
    expect(await m.deny([denied(1)])).toBe(0);
    expect(await redis.client.xlen(keys.killStream)).toBe(1);
    expect(await readDenyKey(redis.client, denied(1).agentId)).toMatchObject({ how: "revoked", block: 7, source: "chain" });
    expect(await redis.client.hget(keys.indexerChain, "31337")).toBe(identity.genesisHash);
  });

  it("restores missing deny keys from the tables and keeps existing ones as they are", async () => {
    const m = await connected();
    await m.deny([denied(1, "registry-kill")]);
    const rows = [denied(1), denied(2), denied(3)];
    reconciler = createReconciler({
      mirror: m,
      intervalMs: 60_000,
      listDenied: async (after) => rows.filter((r) => after === undefined || r.agentId > after),
      listExpiring: async () => [],
    });
    expect(await reconciler.run()).toEqual({ checked: 3, restored: 2, expiring: 0 });
    expect(await reconciler.run()).toEqual({ checked: 3, restored: 0, expiring: 0 });
    expect((await readDenyKey(redis.client, denied(1).agentId))?.how).toBe("registry-kill");
    expect(await redis.client.xlen(keys.killStream)).toBe(3);
  });

  it("pages through the tables", async () => {
    const m = await connected();
    const rows = Array.from({ length: 7 }, (_, i) => denied(i + 1));
    reconciler = createReconciler({
      mirror: m,
      intervalMs: 60_000,
      pageSize: 3,
      listDenied: async (after, limit) => rows.filter((r) => after === undefined || r.agentId > after).slice(0, limit),
      listExpiring: async (after, limit) =>
        rows
          .filter((r) => after === undefined || r.agentId > after)
          .slice(0, limit)
          .map((r) => ({ agentId: r.agentId, expiresAtMs: 5_000, block: 1 })),
    });
    expect(await reconciler.run()).toEqual({ checked: 7, restored: 7, expiring: 7 });
    expect(await redis.client.hget(keys.flags(rows[6]!.agentId), "expiresAt")).toBe("5000");
  });

  it("keeps denials made while Redis is down and writes them when it returns", async () => {
    const m = await connected();
    reconciler = createReconciler({ mirror: m, intervalMs: 60_000, listDenied: async () => [], listExpiring: async () => [] });
    reconciler.start();
    await redis.stop();
    await waitUntil(async () => !m.verified, "the mirror to notice Redis is down");
    expect(await m.deny([denied(4)])).toBe(0);
    expect(m.pending).toBe(1);
    await redis.start();
    await waitUntil(async () => (await redis.client.exists(keys.deny(denied(4).agentId))) === 1, "the queued deny key");
    // The queue is cleared once the whole write (deny key, then kill-stream entry) is confirmed, a moment later.
    await waitUntil(async () => m.pending === 0, "the queue to clear");
    expect(await redis.client.xlen(keys.killStream)).toBe(1);
  });

  it("writes an agent's expiry, lets a newer attestation renew or remove it but never an older one", async () => {
    const m = await connected();
    const agentId = denied(6).agentId;
    const expiresAt = () => redis.client.hget(keys.flags(agentId), "expiresAt");
    await m.expire([{ agentId, expiresAtMs: 1_000, block: 10 }]);
    expect(await expiresAt()).toBe("1000");
    // A replay or a reconciler pass that read the tables before the renewal below: ignored once it lands.
    await m.expire([{ agentId, expiresAtMs: 2_000, block: 12 }]);
    await m.expire([{ agentId, expiresAtMs: 1_000, block: 10 }]);
    expect(await expiresAt()).toBe("2000");
    await m.expire([{ agentId, expiresAtMs: null, block: 13 }]);
    expect(await expiresAt()).toBeNull();
    // The gate's other flags are left alone.
    await redis.client.hset(keys.flags(agentId), "agent", "0");
    await m.expire([{ agentId, expiresAtMs: 3_000, block: 14 }]);
    expect(await redis.client.hgetall(keys.flags(agentId))).toEqual({ agent: "0", expiresAt: "3000", expiresBlock: "14" });
  });

  it("keeps expiries written while Redis is down, the latest per agent, and writes them when it returns", async () => {
    const m = await connected();
    reconciler = createReconciler({ mirror: m, intervalMs: 60_000, listDenied: async () => [], listExpiring: async () => [] });
    reconciler.start();
    await redis.stop();
    await waitUntil(async () => !m.verified, "the mirror to notice Redis is down");
    const agentId = denied(7).agentId;
    await m.expire([{ agentId, expiresAtMs: 9_000, block: 21 }]);
    await m.expire([{ agentId, expiresAtMs: 8_000, block: 20 }]);
    expect(m.pending).toBe(1);
    await redis.start();
    await waitUntil(async () => (await redis.client.hget(keys.flags(agentId), "expiresAt")) === "9000", "the queued expiry");
    await waitUntil(async () => m.pending === 0, "the queue to clear");
  });

  it("refuses a Redis that mirrors another instance of the chain", async () => {
    await redis.client.hset(keys.indexerChain, "31337", `0x${"22".repeat(32)}`);
    const errors: Error[] = [];
    mirror = createMirror({ redisUrl: redis.url, timeoutMs: 1_000, identity, onFatal: (error) => errors.push(error) });
    await waitUntil(async () => errors.length > 0, "the refusal");
    expect(errors[0]?.message).toMatch(/holds deny keys mirrored from another instance of chain 31337/);
    expect(mirror.verified).toBe(false);
    expect(await mirror.deny([denied(5)])).toBe(0);
    expect(await redis.client.exists(keys.deny(denied(5).agentId))).toBe(0);
  });
});
