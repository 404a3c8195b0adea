import { type Hex, parseEventLogs, zeroAddress, zeroHash } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { easAbi } from "../contracts/abi/EAS.ts";
import { killcordRegistryAbi } from "../contracts/abi/KillcordRegistry.ts";
import { schemaRegistryAbi } from "../contracts/abi/SchemaRegistry.ts";
import type { DenyRecord } from "../proxy/store/denyKey.ts";
import { keys } from "../proxy/store/keys.ts";
import { killAgent, killFleet, setGuardian } from "../scripts/actions/killAgent.ts";
import { readStatus } from "../scripts/actions/readStatus.ts";
import { type RegisteredAgent, registerAgent } from "../scripts/actions/registerAgent.ts";
import { revokeAgent } from "../scripts/actions/revokeAgent.ts";
import { agentStatusName } from "../scripts/lib/agentStatus.ts";
import { type Killcord, sendContract } from "../scripts/lib/killcord.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import { addProvider, agentView, issueCredential, linkAgent, loginOperator } from "./support/operator.ts";
import { startPonder, type TestIndexer } from "./support/ponder.ts";
import { startTestProxy } from "./support/proxy.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";
import { startFixtureUpstream } from "./support/upstream.ts";

let chain: TestChain;
let redis: TestRedis;
let indexer: TestIndexer;
let operator: Killcord;
let otherOperator: Killcord;
let guardian: Killcord;

beforeAll(async () => {
  [chain, redis] = await Promise.all([startChain(), startRedis()]);
  // A short reconcile period so that the flush test heals in about a second; a short chain check so that the
  // status API sees the chain's clock move soon after the expiry test moves it.
  indexer = await startPonder(chain, redis, {
    env: { KILLCORD_INDEXER_RECONCILE_MS: "500", KILLCORD_INDEXER_CHAIN_CHECK_MS: "200" },
  });
  [operator, otherOperator, guardian] = await Promise.all([
    chain.open(testKeys.operator),
    chain.open(testKeys.otherOperator),
    chain.open(testKeys.guardian),
  ]);
});

afterAll(async () => {
  await indexer?.close();
  await Promise.all([redis?.close(), chain?.close()]);
});

/** Every deny key in the test Redis, by agentId. */
async function denyKeys(): Promise<Map<string, DenyRecord>> {
  const found = new Map<string, DenyRecord>();
  let cursor = "0";
  do {
    const [next, batch] = await redis.client.scan(cursor, "MATCH", "kc:{*}:deny", "COUNT", 1000);
    cursor = next;
    for (const key of batch) {
      const raw = await redis.client.get(key);
      if (raw !== null) found.set(key.slice(4, 70), JSON.parse(raw) as DenyRecord);
    }
  } while (cursor !== "0");
  return found;
}

async function lastStreamId(): Promise<string> {
  const [last] = await redis.client.xrevrange(keys.killStream, "+", "-", "COUNT", 1);
  return last?.[0] ?? "0-0";
}

/** Kill-stream entries after `id`, as agentId -> number of entries. */
async function streamEntriesAfter(id: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const [, fields] of await redis.client.xrange(keys.killStream, `(${id}`, "+")) {
    const agentId = fields[fields.indexOf("agentId") + 1] ?? "";
    counts.set(agentId, (counts.get(agentId) ?? 0) + 1);
  }
  return counts;
}

/**
 * Runs a chain action, waits until the indexer has indexed its block, and returns the deny keys that
 * appeared and the kill-stream entries added meanwhile.
 */
async function observe(action: () => Promise<{ blockNumber: number }>) {
  const [before, streamId] = await Promise.all([denyKeys(), lastStreamId()]);
  const { blockNumber } = await action();
  await indexer.waitForBlock(blockNumber);
  const after = await denyKeys();
  const added = new Map([...after].filter(([agentId]) => !before.has(agentId)));
  return { added, entries: await streamEntriesAfter(streamId), blockNumber };
}

const ids = (...agents: RegisteredAgent[]) => agents.map((a) => a.agentId).sort();

async function api(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${indexer.url}${path}`);
  return { status: res.status, body: await res.json() };
}

const agents: Record<string, RegisteredAgent> = {};

describe("the proxy, fed by the indexer", () => {
  it("makes the proxy stop the agent once its attestation has expired, until a new attestation renews it", async () => {
    const [upstream, proxy] = await Promise.all([startFixtureUpstream({ quiet: true }), startTestProxy({ redis, chain })]);
    try {
      const session = await loginOperator(proxy.url, testKeys.operator, chain);
      // A few seconds past the next block's time (the node keeps its clock ahead of the wall clock by the
      // seconds it skipped to mine several blocks within one).
      const { timestamp } = await operator.publicClient.getBlock({ blockTag: "pending" });
      const expiry = timestamp + 5n;
      const short = await registerAgent(operator, { name: "short-lived", expirationTime: expiry });
      await indexer.waitForBlock(short.blockNumber);
      await linkAgent(session, short.agentId);
      await addProvider(session, short.agentId, {
        name: "openai",
        baseUrl: upstream.baseUrl,
        apiKey: "sk-test",
        style: "openai",
      });
      const credential = await issueCredential(session, short.agentId);
      const ask = async () => {
        const res = await fetch(`${proxy.url}/openai/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "m", messages: [] }),
        });
        return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
      };
      expect(await ask()).toEqual({ status: 200, code: undefined });
      // The operator sees it in the proxy's view of the agent.
      expect((await agentView(session, short.agentId)).gate.expiresAt).toBe(Number(expiry) * 1000);

      // The gate reads the wall clock (Redis TIME), which the local chain's clock runs ahead of by about a
      // second per block mined within a second of the last (hence this test comes first in the file).
      const waitMs = Number(expiry) * 1000 - Date.now();
      expect(waitMs, "the test chain's clock is far ahead of the wall clock").toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, Math.max(0, waitMs) + 50));
      const seen = upstream.seen.length;
      expect(await ask()).toEqual({ status: 403, code: "ATTESTATION_EXPIRED" });
      expect(upstream.seen.length).toBe(seen);

      const renewed = await registerAgent(operator, { name: "short-lived", agentId: short.agentId });
      await indexer.waitForBlock(renewed.blockNumber);
      expect(await ask()).toEqual({ status: 200, code: undefined });
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("mirroring kills into deny keys", () => {
  it("denies an agent whose attestation is revoked on EAS, with one kill-stream entry", async () => {
    agents.revoked = await registerAgent(operator, { name: "revoked" });
    agents.bystander = await registerAgent(operator, { name: "bystander" });
    const { added, entries, blockNumber } = await observe(() => revokeAgent(operator, agents.revoked!.agentId));
    expect([...added.keys()]).toEqual([agents.revoked.agentId]);
    expect(Object.fromEntries(entries)).toEqual({ [agents.revoked.agentId]: 1 });
    expect(added.get(agents.revoked.agentId)).toMatchObject({
      state: "killed",
      code: "ATTESTATION_REVOKED",
      source: "chain",
      how: "revoked",
      initiator: operator.account!.address.toLowerCase(),
      uid: agents.revoked.uid,
      block: blockNumber,
      txHash: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    });
    expect(await redis.client.ttl(keys.deny(agents.revoked.agentId))).toBe(-1);
  });

  it("denies a revoked parent's sub-agents and their sub-agents", async () => {
    agents.parent = await registerAgent(operator, { name: "parent" });
    agents.child = await registerAgent(operator, { name: "child", parent: agents.parent.uid });
    agents.grandchild = await registerAgent(operator, { name: "grandchild", parent: agents.child.uid });
    const { added, entries } = await observe(() => revokeAgent(operator, agents.parent!.agentId));
    expect([...added.keys()].sort()).toEqual(ids(agents.parent, agents.child, agents.grandchild));
    expect([...entries.values()]).toEqual([1, 1, 1]);
    expect([...entries.keys()].sort()).toEqual(ids(agents.parent, agents.child, agents.grandchild));
    expect(added.get(agents.grandchild.agentId)).toMatchObject({
      how: "ancestor-inactive",
      cause: agents.parent.agentId,
      uid: agents.grandchild.uid,
    });
  });

  it("denies an agent a guardian kills through the registry, and its sub-agents", async () => {
    await setGuardian(operator, guardian.account!.address, true);
    agents.killed = await registerAgent(operator, { name: "killed" });
    agents.killedChild = await registerAgent(operator, { name: "killed-child", parent: agents.killed.uid });
    const { added, entries } = await observe(() => killAgent(guardian, agents.killed!.agentId, "incident 42"));
    expect([...added.keys()].sort()).toEqual(ids(agents.killed, agents.killedChild));
    expect([...entries.keys()].sort()).toEqual(ids(agents.killed, agents.killedChild));
    expect([...entries.values()]).toEqual([1, 1]);
    expect(added.get(agents.killed.agentId)).toMatchObject({
      how: "registry-kill",
      reason: "incident 42",
      initiator: guardian.account!.address.toLowerCase(),
    });
    expect(added.get(agents.killedChild.agentId)).toMatchObject({ how: "ancestor-inactive", cause: agents.killed.agentId });
  });

  it("denies every agent of a fleet kill and none attested after it", async () => {
    agents.fleetA = await registerAgent(otherOperator, { name: "fleet-a" });
    agents.fleetB = await registerAgent(otherOperator, { name: "fleet-b" });
    agents.fleetChild = await registerAgent(otherOperator, { name: "fleet-child", parent: agents.fleetA.uid });
    const { added, entries } = await observe(async () => {
      const result = await killFleet(otherOperator, otherOperator.account!.address, "compromised key");
      return { blockNumber: result.killedUpToBlock };
    });
    expect([...added.keys()].sort()).toEqual(ids(agents.fleetA, agents.fleetB, agents.fleetChild));
    expect([...entries.keys()].sort()).toEqual(ids(agents.fleetA, agents.fleetB, agents.fleetChild));
    expect([...entries.values()]).toEqual([1, 1, 1]);
    expect(added.get(agents.fleetChild.agentId)).toMatchObject({ how: "fleet-kill", reason: "compromised key" });
    const { added: later } = await observe(async () => {
      agents.afterFleet = await registerAgent(otherOperator, { name: "after-fleet" });
      return agents.afterFleet;
    });
    expect(later.size).toBe(0);
  });

  it("denies a superseded attestation's sub-agents but not the agent itself", async () => {
    agents.rotated = await registerAgent(operator, { name: "rotated" });
    agents.orphan = await registerAgent(operator, { name: "orphan", parent: agents.rotated.uid });
    agents.rotatedOldUid = agents.rotated;
    const { added, entries } = await observe(async () => {
      agents.rotated = await registerAgent(operator, { name: "rotated", agentId: agents.rotated!.agentId });
      return agents.rotated;
    });
    expect([...added.keys()]).toEqual([agents.orphan.agentId]);
    expect(Object.fromEntries(entries)).toEqual({ [agents.orphan.agentId]: 1 });
    // Revoking the superseded attestation retires that uid only: the agentId lives on.
    const { added: none } = await observe(async () => {
      const receipt = await sendContract(operator, "revoke", {
        address: operator.deployment.eas,
        abi: easAbi,
        functionName: "revoke",
        args: [{ schema: operator.deployment.agentSchemaUid, data: { uid: agents.rotatedOldUid!.uid, value: 0n } }],
      });
      return { blockNumber: Number(receipt.blockNumber) };
    });
    expect(none.size).toBe(0);
  });
});

describe("mirroring expiry into the gate's flags", () => {
  const expiresAt = (a: RegisteredAgent) => redis.client.hget(keys.flags(a.agentId), "expiresAt");
  const ms = (seconds: bigint) => String(seconds * 1000n);

  it("writes the earliest expiry of an agent and its ancestors, and follows a key rotation both ways", async () => {
    const { timestamp } = await operator.publicClient.getBlock();
    agents.expiryParent = await registerAgent(operator, { name: "exp-parent", expirationTime: timestamp + 3600n });
    agents.expiryChild = await registerAgent(operator, { name: "exp-child", parent: agents.expiryParent.uid });
    agents.expiryShort = await registerAgent(operator, {
      name: "exp-short",
      parent: agents.expiryChild.uid,
      expirationTime: timestamp + 1800n,
    });
    agents.noExpiry = await registerAgent(operator, { name: "no-expiry" });
    await indexer.waitForBlock(agents.noExpiry.blockNumber);
    expect(await expiresAt(agents.expiryParent)).toBe(ms(timestamp + 3600n));
    expect(await expiresAt(agents.expiryChild)).toBe(ms(timestamp + 3600n));
    expect(await expiresAt(agents.expiryShort)).toBe(ms(timestamp + 1800n));
    expect(await expiresAt(agents.noExpiry)).toBeNull();

    // A new attestation of the agentId (key rotation) renews the agent: its expiry replaces the old one's.
    const renewed = await registerAgent(operator, { name: "exp-parent", agentId: agents.expiryParent.agentId });
    const expiring = await registerAgent(operator, {
      name: "no-expiry",
      agentId: agents.noExpiry.agentId,
      expirationTime: timestamp + 7200n,
    });
    await indexer.waitForBlock(expiring.blockNumber);
    expect(await expiresAt(renewed)).toBeNull();
    expect(await expiresAt(expiring)).toBe(ms(timestamp + 7200n));
    agents.expiryParent = renewed;
    agents.noExpiry = expiring;
  });
});

describe("status API", () => {
  it("agrees with the registry's status view", async () => {
    const refs = [
      agents.bystander!.agentId, // active
      agents.revoked!.agentId, // revoked
      agents.killed!.agentId, // killed
      agents.killedChild!.agentId, // ancestor-inactive
      agents.grandchild!.agentId, // ancestor-inactive, two levels down
      agents.fleetB!.agentId, // fleet-killed
      agents.fleetChild!.agentId, // fleet-killed sub-agent
      agents.afterFleet!.agentId, // active after the fleet kill
      agents.rotated!.agentId, // active under its new attestation
      agents.orphan!.agentId, // ancestor-inactive (superseded parent)
    ];
    const head = await operator.publicClient.getBlockNumber();
    await indexer.waitForBlock(head);
    const seen = new Set<string>();
    for (const ref of refs) {
      const chainView = await readStatus(operator, ref);
      const { status, body } = await api(`/agents/${ref}`);
      expect(status).toBe(200);
      expect({ ref, active: body.active, status: body.status, uid: body.uid }).toEqual({
        ref,
        active: chainView.active,
        status: chainView.status,
        uid: chainView.uid,
      });
      seen.add(chainView.status);
    }
    expect([...seen].sort()).toEqual(["active", "ancestor-inactive", "fleet-killed", "killed", "revoked"]);
    for (const uid of [agents.rotatedOldUid!.uid, agents.rotated!.uid, agents.child!.uid]) {
      const chainView = await readStatus(operator, uid);
      const { body } = await api(`/attestations/${uid}`);
      expect({ uid, active: body.active, status: body.status }).toEqual({
        uid,
        active: chainView.active,
        status: chainView.status,
      });
    }
  });

  it("says expired once the chain's clock passes the expiration", async () => {
    const { timestamp } = await operator.publicClient.getBlock();
    agents.expiring = await registerAgent(operator, { name: "expiring", expirationTime: timestamp + 60n });
    await indexer.waitForBlock(agents.expiring.blockNumber);
    const before = await api(`/agents/${agents.expiring.agentId}`);
    expect({ active: before.body.active, status: before.body.status, expirationTime: before.body.expirationTime }).toEqual({
      active: true,
      status: "active",
      expirationTime: Number(timestamp + 60n),
    });
    await chainRpc("evm_increaseTime", [120]);
    await chainRpc("evm_mine");
    expect((await readStatus(operator, agents.expiring.agentId)).status).toBe("expired");
    await waitUntil(
      async () => (await api(`/agents/${agents.expiring!.agentId}`)).body.status === "expired",
      "an expired status",
    );
    expect((await api(`/attestations/${agents.expiring.uid}`)).body).toMatchObject({ active: false, status: "expired" });
  });

  it("answers 400 for a malformed id and 404 for an unknown one", async () => {
    expect(await api("/agents/0x1234")).toMatchObject({
      status: 400,
      body: { active: false, error: { code: "INVALID_AGENT_ID" } },
    });
    expect(await api("/attestations/not-a-uid")).toMatchObject({
      status: 400,
      body: { active: false, error: { code: "INVALID_UID" } },
    });
    const unknown = `0x${"ab".repeat(32)}`;
    expect(await api(`/agents/${unknown}`)).toMatchObject({
      status: 404,
      body: { active: false, status: "unknown", error: { code: "UNKNOWN_AGENT" } },
    });
    expect(await api(`/attestations/${unknown}`)).toMatchObject({
      status: 404,
      body: { active: false, status: "unknown", error: { code: "UNKNOWN_ATTESTATION" } },
    });
  });

  it("answers 404 wrong-schema for another schema's attestation", async () => {
    const wallet = operator.walletClient!;
    const schema = `string note${Date.now()}`;
    const registered = await operator.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: operator.deployment.schemaRegistry,
        abi: schemaRegistryAbi,
        functionName: "register",
        args: [schema, zeroAddress, true],
      }),
    });
    const [event] = parseEventLogs({ abi: schemaRegistryAbi, eventName: "Registered", logs: registered.logs });
    const attested = await operator.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: operator.deployment.eas,
        abi: easAbi,
        functionName: "attest",
        args: [
          {
            schema: event!.args.uid,
            data: { recipient: zeroAddress, expirationTime: 0n, revocable: true, refUID: zeroHash, data: "0x", value: 0n },
          },
        ],
      }),
    });
    const [attestation] = parseEventLogs({ abi: easAbi, eventName: "Attested", logs: attested.logs });
    const uid = attestation!.args.uid as Hex;
    await indexer.waitForBlock(attested.blockNumber);
    const onchain = await operator.publicClient.readContract({
      address: operator.deployment.registry,
      abi: killcordRegistryAbi,
      functionName: "status",
      args: [uid],
    });
    expect(agentStatusName(onchain)).toBe("wrong-schema");
    expect(await api(`/attestations/${uid}`)).toMatchObject({
      status: 404,
      body: { active: false, status: "wrong-schema", error: { code: "WRONG_SCHEMA" } },
    });
  });

  it("serves the tables over GraphQL", async () => {
    const res = await fetch(`${indexer.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `{ agent(agentId: "${agents.killed!.agentId}") { state how reason } }` }),
    });
    expect(await res.json()).toEqual({ data: { agent: { state: "killed", how: "registry-kill", reason: "incident 42" } } });
  });
});

describe("replays and Redis loss", () => {
  it("adds no kill-stream entries when the indexer restarts", async () => {
    const head = await operator.publicClient.getBlockNumber();
    await indexer.waitForBlock(head);
    const [keysBefore, lengthBefore] = await Promise.all([denyKeys(), redis.client.xlen(keys.killStream)]);
    await indexer.restart();
    await indexer.waitForBlock(head);
    // A new block after the restart proves live indexing resumed past the replayed ones.
    const { added } = await observe(async () => {
      agents.afterRestart = await registerAgent(operator, { name: "after-restart" });
      return agents.afterRestart;
    });
    expect(added.size).toBe(0);
    expect(await redis.client.xlen(keys.killStream)).toBe(lengthBefore);
    expect(await denyKeys()).toEqual(keysBefore);
  });

  it("restores every deny key and expiry after the Redis is flushed", async () => {
    const before = await denyKeys();
    const expiry = await redis.client.hget(keys.flags(agents.noExpiry!.agentId), "expiresAt");
    expect(expiry).not.toBeNull();
    expect(before.size).toBeGreaterThan(8);
    await redis.client.flushall();
    await waitUntil(async () => (await denyKeys()).size === before.size, "the reconciler to restore the deny keys");
    expect(await denyKeys()).toEqual(before);
    // The expiries of the active agents that have one come back with them (the renewed agent has none).
    await waitUntil(
      async () => (await redis.client.hget(keys.flags(agents.noExpiry!.agentId), "expiresAt")) === expiry,
      "the reconciler to restore the expiries",
    );
    expect(await redis.client.hget(keys.flags(agents.expiryParent!.agentId), "expiresAt")).toBeNull();
    expect(await redis.client.hget(keys.indexerChain, "31337")).toBe(chain.deployment.genesisHash);
  });

  it("loses no kill made while Redis is down", async () => {
    const before = await denyKeys();
    agents.whileDown = await registerAgent(operator, { name: "while-down" });
    await indexer.waitForBlock(agents.whileDown.blockNumber);
    await redis.stop();
    const revoked = await revokeAgent(operator, agents.whileDown.agentId);
    await indexer.waitForBlock(revoked.blockNumber);
    // The test Redis keeps nothing on disk: it comes back empty, and the indexer must refill it.
    await redis.start();
    await waitUntil(
      async () => (await denyKeys().catch(() => new Map())).size === before.size + 1,
      "deny keys after Redis returns",
    );
    const after = await denyKeys();
    expect(after.get(agents.whileDown.agentId)).toMatchObject({ how: "revoked", uid: agents.whileDown.uid });
    for (const [agentId, record] of before) expect(after.get(agentId)).toEqual(record);
  });
});

async function chainRpc(method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(chain.chain.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n${indexer.output().split("\n").slice(-40).join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
