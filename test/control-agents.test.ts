import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreGateState } from "../proxy/control/restoreGateState.ts";
import { parseCredential } from "../proxy/store/agentState.ts";
import { writeDenyKey } from "../proxy/store/denyKey.ts";
import { keys } from "../proxy/store/keys.ts";
import { revokeAgent } from "../scripts/actions/revokeAgent.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import {
  addProvider,
  agentView,
  call,
  callRaw,
  createKey,
  issueCredential,
  linkAgent,
  loginOperator,
  type OperatorSession,
  registerTestAgent,
  setGuardrail,
  setTier1,
  setTier2,
  startControlPlane,
  type TestControlPlane,
} from "./support/operator.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

let redis: TestRedis;
let chain: TestChain;
let cp: TestControlPlane;
let owner: OperatorSession;

beforeAll(async () => {
  redis = await startRedis();
  chain = await startChain();
  cp = await startControlPlane(redis, chain);
  owner = await loginOperator(cp.url, testKeys.operator, chain);
});
afterAll(async () => {
  await cp?.close();
  await chain?.close();
  await redis?.close();
});

async function newAgent(session = owner, privateKey: string = testKeys.operator): Promise<string> {
  const agentId = await registerTestAgent(chain, privateKey);
  await linkAgent(session, agentId);
  return agentId;
}

const openai = { name: "openai", baseUrl: "https://api.openai.example/v1", apiKey: "sk-test-provider-key-9f3a" };

describe("linking an agent", () => {
  it("links an agent the operator's wallet operates onchain", async () => {
    const agentId = await registerTestAgent(chain);
    const linked = await callRaw(owner, "POST", "/v1/agents", { agentId, name: "research bot" });
    expect(linked.status).toBe(201);
    expect(linked.body).toMatchObject({ agentId, name: "research bot", enabled: true, operator: owner.operator.toLowerCase() });
    expect(linked.body.uid).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await call(owner, "GET", "/v1/agents")).agents.map((a: any) => a.agentId)).toContain(agentId);
  });

  it("refuses an agent another wallet operates", async () => {
    const agentId = await registerTestAgent(chain, testKeys.otherOperator);
    const answer = await callRaw(owner, "POST", "/v1/agents", { agentId });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe("NOT_AGENT_OPERATOR");
  });

  it("refuses an agentId never registered", async () => {
    const answer = await callRaw(owner, "POST", "/v1/agents", { agentId: `0x${"ab".repeat(32)}` });
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe("AGENT_NOT_ONCHAIN");
  });

  it("refuses an agent whose attestation was revoked", async () => {
    const agentId = await registerTestAgent(chain);
    await revokeAgent(await chain.open(testKeys.operator), agentId);
    const answer = await callRaw(owner, "POST", "/v1/agents", { agentId });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: "AGENT_INACTIVE", details: { status: "revoked" } });
  });

  it("refuses to link an agent twice", async () => {
    const agentId = await newAgent();
    const answer = await callRaw(owner, "POST", "/v1/agents", { agentId });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("AGENT_ALREADY_LINKED");
  });
});

describe("credentials", () => {
  it("issues a credential that names its agent, storing only its hash", async () => {
    const agentId = await newAgent();
    const issued = await call(owner, "POST", `/v1/agents/${agentId}/credentials`, { label: "worker-1" });
    const parsed = parseCredential(issued.credential);
    expect(parsed?.agentId).toBe(agentId);
    expect(await redis.client.hgetall(keys.credential(agentId, parsed!.secretHash))).toEqual({
      id: issued.id,
      issuedAt: String(issued.issuedAt),
    });
    const { rows } = await cp.db.query("SELECT * FROM credentials WHERE agent_id = $1", [agentId]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(issued.credential);
    const listed = await call(owner, "GET", `/v1/agents/${agentId}/credentials`);
    expect(JSON.stringify(listed)).not.toContain(issued.credential);
  });

  it("revokes one credential in the store and for the gate", async () => {
    const agentId = await newAgent();
    const issued = await call(owner, "POST", `/v1/agents/${agentId}/credentials`, {});
    const revoked = await call(owner, "DELETE", `/v1/agents/${agentId}/credentials/${issued.id}`);
    expect(revoked.revokedAt).toBeGreaterThanOrEqual(issued.issuedAt);
    const hash = parseCredential(issued.credential)!.secretHash;
    expect(await redis.client.hget(keys.credential(agentId, hash), "revokedAt")).toBe(String(revoked.revokedAt));
  });

  it("revoking all sets a cut-off that kills every earlier credential and no later one", async () => {
    const agentId = await newAgent();
    const before = await call(owner, "POST", `/v1/agents/${agentId}/credentials`, {});
    const cut = await call(owner, "DELETE", `/v1/agents/${agentId}/credentials`);
    expect(cut.revoked).toEqual([before.id]);
    expect(await redis.client.hget(keys.flags(agentId), "cutoff")).toBe(String(cut.credentialCutoff));
    expect(before.issuedAt).toBeLessThan(cut.credentialCutoff);
    const after = await call(owner, "POST", `/v1/agents/${agentId}/credentials`, {});
    expect(after.issuedAt).toBeGreaterThanOrEqual(cut.credentialCutoff);
  });

  it("answers CREDENTIAL_NOT_FOUND for an unknown credential id", async () => {
    const agentId = await newAgent();
    const answer = await callRaw(owner, "DELETE", `/v1/agents/${agentId}/credentials/cred_${"0".repeat(16)}`);
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe("CREDENTIAL_NOT_FOUND");
  });
});

describe("provider connections", () => {
  it("keeps the provider key encrypted and never returns it", async () => {
    const agentId = await newAgent();
    const added = await callRaw(owner, "POST", `/v1/agents/${agentId}/providers`, openai);
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      name: "openai",
      baseUrl: openai.baseUrl,
      style: "openai",
      enabled: true,
      key: { last4: "9f3a" },
    });
    const { rows } = await cp.db.query("SELECT key_ciphertext FROM provider_connections WHERE agent_id = $1", [agentId]);
    expect(Buffer.from(rows[0].key_ciphertext).includes(Buffer.from(openai.apiKey))).toBe(false);
    for (const path of [`/v1/agents/${agentId}/providers`, `/v1/agents/${agentId}`, "/v1/agents"]) {
      expect(JSON.stringify(await call(owner, "GET", path))).not.toContain(openai.apiKey);
    }
    expect(JSON.stringify(added.body)).not.toContain(openai.apiKey);
    expect(await cp.directory.get(agentId, "openai")).toMatchObject({ apiKey: openai.apiKey, baseUrl: openai.baseUrl });
    expect(await redis.client.hget(keys.flags(agentId), "provider:openai")).toBe("1");
  });

  it("serves a changed key to the data plane at once", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    expect((await cp.directory.get(agentId, "openai"))?.apiKey).toBe(openai.apiKey);
    await call(owner, "PATCH", `/v1/agents/${agentId}/providers/openai`, { apiKey: "sk-rotated-key-0042", style: "anthropic" });
    expect(await cp.directory.get(agentId, "openai")).toMatchObject({ apiKey: "sk-rotated-key-0042", style: "anthropic" });
  });

  it("refuses a second connection with the same name", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    const answer = await callRaw(owner, "POST", `/v1/agents/${agentId}/providers`, openai);
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("PROVIDER_EXISTS");
  });

  it("removing a connection turns its flag off and drops its guardrail", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    await setGuardrail(owner, agentId, { provider: "openai", rpm: 5 });
    await call(owner, "DELETE", `/v1/agents/${agentId}/providers/openai`);
    expect(await redis.client.hget(keys.flags(agentId), "provider:openai")).toBe("0");
    expect(await redis.client.hgetall(keys.guardrails(agentId))).toEqual({});
    expect(await cp.directory.get(agentId, "openai")).toBeUndefined();
  });

  it("validates names, URLs and keys without echoing the key", async () => {
    const agentId = await newAgent();
    const cases = [
      { ...openai, name: "v1" },
      { ...openai, name: "Open AI" },
      { ...openai, baseUrl: "https://user:pass@api.example/v1" },
      { ...openai, baseUrl: "file:///etc/passwd" },
      { ...openai, apiKey: "sk-secret-line\r\nx-evil: 1" },
      { ...openai, extra: true },
    ];
    for (const body of cases) {
      const answer = await callRaw(owner, "POST", `/v1/agents/${agentId}/providers`, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe("VALIDATION_FAILED");
      expect(JSON.stringify(answer.body)).not.toContain("sk-secret-line");
    }
  });
});

describe("Tier 1 and Tier 2", () => {
  it("turns one provider off and on again, for the gate and in the store", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    expect(await setTier1(owner, agentId, "openai", false, "incident 42")).toMatchObject({ enabled: false, changed: true });
    expect(await redis.client.hget(keys.flags(agentId), "provider:openai")).toBe("0");
    expect((await agentView(owner, agentId)).providers[0]).toMatchObject({ enabled: false, enabledReason: "incident 42" });
    await setTier1(owner, agentId, "openai", true);
    expect(await redis.client.hget(keys.flags(agentId), "provider:openai")).toBe("1");
  });

  it("turns the whole agent off and on again", async () => {
    const agentId = await newAgent();
    await setTier2(owner, agentId, false);
    expect(await redis.client.hget(keys.flags(agentId), "agent")).toBe("0");
    expect((await agentView(owner, agentId)).enabled).toBe(false);
    await setTier2(owner, agentId, true);
    expect(await redis.client.hget(keys.flags(agentId), "agent")).toBe("1");
    expect((await agentView(owner, agentId)).gate.agentEnabled).toBe(true);
  });

  it("re-enabling clears a guardrail trip", async () => {
    const agentId = await newAgent();
    await redis.client.hset(
      keys.flags(agentId),
      "agent",
      "0",
      "tripped:agent",
      JSON.stringify({ by: "guardrail", code: "RATE_LIMITED" }),
    );
    expect((await agentView(owner, agentId)).gate).toMatchObject({
      agentEnabled: false,
      tripped: { agent: { code: "RATE_LIMITED" } },
    });
    await setTier2(owner, agentId, true);
    expect(await redis.client.hgetall(keys.flags(agentId))).toEqual({ agent: "1" });
  });

  it("answers PROVIDER_NOT_FOUND for a provider the agent lacks", async () => {
    const agentId = await newAgent();
    const answer = await callRaw(owner, "PUT", `/v1/agents/${agentId}/providers/anthropic/enabled`, { enabled: false });
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe("PROVIDER_NOT_FOUND");
  });

  it("announces each change on the event stream", async () => {
    const agentId = await newAgent();
    await setTier2(owner, agentId, false, "drill");
    const entries = await redis.client.xrange(keys.eventStream, "-", "+");
    const event = entries
      .map(([, fields]) => Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []))))
      .find((e) => e.type === "tier2.changed" && e.agentId === agentId);
    expect(event).toBeDefined();
    expect(JSON.parse(event!.detail)).toMatchObject({ enabled: false, reason: "drill", source: "api" });
    expect(Number(event!.at)).toBeGreaterThan(0);
  });
});

describe("guardrails", () => {
  it("writes limits in the gate's format, spend in micro-USD", async () => {
    const agentId = await newAgent();
    const set = await setGuardrail(owner, agentId, { rpm: 60, usdPerDay: 2.5 });
    expect(set).toMatchObject({ provider: null, rpm: 60, rpd: null, usdPerDay: 2.5, action: "tier2" });
    expect(await redis.client.hgetall(keys.guardrails(agentId))).toEqual({
      "*:rpm": "60",
      "*:usd": "2500000",
      "*:action": "tier2",
    });
  });

  it("scopes a guardrail to one provider, tripping Tier 1 by default", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    await setGuardrail(owner, agentId, { provider: "openai", rpd: 1000 });
    expect(await redis.client.hgetall(keys.guardrails(agentId))).toEqual({ "openai:rpd": "1000", "openai:action": "tier1" });
  });

  it("replaces a scope's limits and removes them", async () => {
    const agentId = await newAgent();
    await setGuardrail(owner, agentId, { rpm: 10, rpd: 100, action: "tier2" });
    await setGuardrail(owner, agentId, { usdPerDay: 1, action: "tier1" });
    expect(await redis.client.hgetall(keys.guardrails(agentId))).toEqual({ "*:usd": "1000000", "*:action": "tier1" });
    await call(owner, "DELETE", `/v1/agents/${agentId}/guardrails`);
    expect(await redis.client.hgetall(keys.guardrails(agentId))).toEqual({});
    const again = await callRaw(owner, "DELETE", `/v1/agents/${agentId}/guardrails`);
    expect(again.body.error.code).toBe("GUARDRAIL_NOT_FOUND");
  });

  it("refuses a guardrail without limits or for an unknown provider", async () => {
    const agentId = await newAgent();
    expect((await callRaw(owner, "PUT", `/v1/agents/${agentId}/guardrails`, { action: "tier2" })).body.error.code).toBe(
      "VALIDATION_FAILED",
    );
    expect((await callRaw(owner, "PUT", `/v1/agents/${agentId}/guardrails`, { rpm: 0 })).body.error.code).toBe(
      "VALIDATION_FAILED",
    );
    const unknown = await callRaw(owner, "PUT", `/v1/agents/${agentId}/guardrails`, { provider: "nope", rpm: 5 });
    expect(unknown.body.error.code).toBe("PROVIDER_NOT_FOUND");
  });
});

describe("the proxy's view of an agent", () => {
  it("shows the gate's flags, deny key and today's usage beside the durable state", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    const now = Date.now();
    await redis.client.set(keys.usage(agentId, `rpm:*:${Math.floor(now / 60_000)}`), "3");
    await redis.client.set(
      keys.usage(agentId, `usd:openai:${new Date(now).toISOString().slice(0, 10).replaceAll("-", "")}`),
      "1250000",
    );
    await writeDenyKey(redis.client, agentId, {
      state: "suspended",
      code: "AGENT_SUSPENDED",
      source: "test",
      reason: "looking into it",
      initiator: "test",
      at: now,
    });
    const view = await agentView(owner, agentId);
    expect(view.gate.deny).toMatchObject({ state: "suspended", reason: "looking into it" });
    expect(view.gate.usage["*"].requestsThisMinute).toBe(3);
    expect(view.gate.usage.openai.usdToday).toBe(1.25);
    expect(view.gate.providers).toEqual({ openai: true });
  });
});

describe("operators are isolated", () => {
  let other: OperatorSession;
  let theirs: string;
  let mine: string;

  beforeAll(async () => {
    other = await loginOperator(cp.url, testKeys.otherOperator, chain);
    theirs = await newAgent(other, testKeys.otherOperator);
    await addProvider(other, theirs, openai);
    await issueCredential(other, theirs);
    mine = await newAgent();
  });

  it("operator A cannot see operator B's agents", async () => {
    const listed = await call(owner, "GET", "/v1/agents");
    expect(listed.agents.map((a: any) => a.agentId)).not.toContain(theirs);
    expect((await call(other, "GET", "/v1/agents")).agents.map((a: any) => a.agentId)).toEqual([theirs]);
    for (const path of [`/v1/agents/${theirs}`, `/v1/agents/${theirs}/providers`, `/v1/agents/${theirs}/credentials`]) {
      const answer = await callRaw(owner, "GET", path);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe("AGENT_NOT_FOUND");
    }
  });

  it("operator A cannot change operator B's agents", async () => {
    const flagsBefore = await redis.client.hgetall(keys.flags(theirs));
    const viewBefore = await agentView(other, theirs);
    const writes: Array<[string, string, unknown?]> = [
      ["PUT", `/v1/agents/${theirs}/enabled`, { enabled: false }],
      ["PUT", `/v1/agents/${theirs}/providers/openai/enabled`, { enabled: false }],
      ["PATCH", `/v1/agents/${theirs}/providers/openai`, { baseUrl: "https://attacker.example" }],
      ["DELETE", `/v1/agents/${theirs}/providers/openai`],
      ["POST", `/v1/agents/${theirs}/providers`, { ...openai, name: "mine" }],
      ["POST", `/v1/agents/${theirs}/credentials`, {}],
      ["DELETE", `/v1/agents/${theirs}/credentials`],
      ["DELETE", `/v1/agents/${theirs}/credentials/${viewBefore.credentials[0].id}`],
      ["PUT", `/v1/agents/${theirs}/guardrails`, { rpm: 1 }],
      ["DELETE", `/v1/agents/${theirs}/guardrails`],
    ];
    for (const [method, path, body] of writes) {
      const answer = await callRaw(owner, method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body.error.code).toBe("AGENT_NOT_FOUND");
    }
    const linkTheirs = await callRaw(owner, "POST", "/v1/agents", { agentId: theirs });
    expect(linkTheirs.body.error.code).toBe("NOT_AGENT_OPERATOR");
    expect(await redis.client.hgetall(keys.flags(theirs))).toEqual(flagsBefore);
    const viewAfter = await agentView(other, theirs);
    expect({ ...viewAfter, gate: undefined }).toEqual({ ...viewBefore, gate: undefined });
  });

  it("operator B cannot see operator A's agent either", async () => {
    const answer = await callRaw(other, "GET", `/v1/agents/${mine}`);
    expect(answer.body.error.code).toBe("AGENT_NOT_FOUND");
  });
});

describe("roles", () => {
  let agentId: string;
  beforeAll(async () => {
    agentId = await newAgent();
    await addProvider(owner, agentId, openai);
  });

  it("a viewer can read but cannot change anything", async () => {
    const viewer = await createKey(owner, "viewer");
    for (const path of [
      "/v1/agents",
      `/v1/agents/${agentId}`,
      `/v1/agents/${agentId}/providers`,
      `/v1/agents/${agentId}/credentials`,
    ]) {
      expect((await callRaw(viewer, "GET", path)).status, path).toBe(200);
    }
    const before = await agentView(owner, agentId);
    const flagsBefore = await redis.client.hgetall(keys.flags(agentId));
    const writes: Array<[string, string, unknown?]> = [
      ["POST", "/v1/agents", { agentId: await registerTestAgent(chain) }],
      ["PUT", `/v1/agents/${agentId}/enabled`, { enabled: false }],
      ["PUT", `/v1/agents/${agentId}/providers/openai/enabled`, { enabled: false }],
      ["PATCH", `/v1/agents/${agentId}/providers/openai`, { baseUrl: "https://elsewhere.example" }],
      ["DELETE", `/v1/agents/${agentId}/providers/openai`],
      ["POST", `/v1/agents/${agentId}/providers`, { ...openai, name: "second" }],
      ["POST", `/v1/agents/${agentId}/credentials`, {}],
      ["DELETE", `/v1/agents/${agentId}/credentials`],
      ["PUT", `/v1/agents/${agentId}/guardrails`, { rpm: 1 }],
      ["DELETE", `/v1/agents/${agentId}/guardrails`],
      ["POST", "/v1/keys", { role: "viewer" }],
    ];
    for (const [method, path, body] of writes) {
      const answer = await callRaw(viewer, method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error.code).toBe("ROLE_FORBIDDEN");
    }
    expect(await agentView(owner, agentId)).toEqual(before);
    expect(await redis.client.hgetall(keys.flags(agentId))).toEqual(flagsBefore);
  });

  it("an admin can change agents", async () => {
    const admin = await createKey(owner, "admin");
    expect(await setTier1(admin, agentId, "openai", false)).toMatchObject({ enabled: false });
    expect(await setTier1(admin, agentId, "openai", true)).toMatchObject({ enabled: true });
    expect(await issueCredential(admin, agentId)).toMatch(/^kc_/);
  });
});

describe("requests", () => {
  it("refuses a malformed agentId, a body too large and a body that is not JSON", async () => {
    const bad = await callRaw(owner, "GET", "/v1/agents/0x1234");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("VALIDATION_FAILED");
    const agentId = await newAgent();
    const large = await callRaw(owner, "POST", `/v1/agents/${agentId}/credentials`, { label: "x".repeat(100_000) });
    expect(large.status).toBe(413);
    expect(large.body.error.code).toBe("BODY_TOO_LARGE");
    const text = await fetch(`${cp.url}/v1/agents/${agentId}/enabled`, {
      method: "PUT",
      headers: { authorization: `Bearer ${owner.operatorKey}`, "content-type": "text/plain" },
      body: "enabled=false",
    });
    expect(text.status).toBe(415);
    expect((await text.json()).error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("restoring the gate's state from the durable store", () => {
  it("never weakens what Redis holds", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    const issued = await call(owner, "POST", `/v1/agents/${agentId}/credentials`, {});
    const hash = parseCredential(issued.credential)!.secretHash;
    // State that only Redis knows: a guardrail trip, a revocation by a later cascade layer, a later cut-off.
    await redis.client.hset(keys.flags(agentId), "agent", "0", "provider:openai", "0", "cutoff", "9999999999999");
    await redis.client.hset(keys.credential(agentId, hash), "revokedAt", "123");
    await restoreGateState(cp.db, redis.client, { agentIds: [agentId] });
    expect(await redis.client.hgetall(keys.flags(agentId))).toEqual({
      agent: "0",
      "provider:openai": "0",
      cutoff: "9999999999999",
    });
    expect(await redis.client.hget(keys.credential(agentId, hash), "revokedAt")).toBe("123");
  });
});

// Last: stops the test Redis.
describe("when Redis is down", () => {
  it("refuses changes with REDIS_UNAVAILABLE and leaves the durable store unchanged, then recovers", async () => {
    const agentId = await newAgent();
    await redis.stop();
    try {
      const answer = await callRaw(owner, "PUT", `/v1/agents/${agentId}/enabled`, { enabled: false });
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe("REDIS_UNAVAILABLE");
      const { rows } = await cp.db.query("SELECT enabled FROM agents WHERE agent_id = $1", [agentId]);
      expect(rows[0].enabled).toBe(true);
      expect((await callRaw(owner, "GET", `/v1/agents/${agentId}`)).body.error.code).toBe("REDIS_UNAVAILABLE");
      expect((await callRaw(owner, "GET", "/v1/agents")).status).toBe(200);
    } finally {
      await redis.start();
    }
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await callRaw(owner, "PUT", `/v1/agents/${agentId}/enabled`, { enabled: false })).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect(await redis.client.hget(keys.flags(agentId), "agent")).toBe("0");
  });

  it("restores what the gate needs after Redis lost its data", async () => {
    const agentId = await newAgent();
    await addProvider(owner, agentId, openai);
    await setTier1(owner, agentId, "openai", false);
    await setGuardrail(owner, agentId, { rpm: 7 });
    const issued = await call(owner, "POST", `/v1/agents/${agentId}/credentials`, {});
    const cut = await call(owner, "DELETE", `/v1/agents/${agentId}/credentials`);
    const fresh = await call(owner, "POST", `/v1/agents/${agentId}/credentials`, {});
    const flags = await redis.client.hgetall(keys.flags(agentId));
    const guardrails = await redis.client.hgetall(keys.guardrails(agentId));
    const oldKey = keys.credential(agentId, parseCredential(issued.credential)!.secretHash);
    const newKey = keys.credential(agentId, parseCredential(fresh.credential)!.secretHash);
    const credentials = [await redis.client.hgetall(oldKey), await redis.client.hgetall(newKey)];
    expect(flags.cutoff).toBe(String(cut.credentialCutoff));
    // The test Redis keeps nothing across a restart (no persistence): everything is lost.
    await redis.stop();
    await redis.start();
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await redis.client.exists(newKey).catch(() => 0)) === 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await redis.client.hgetall(keys.flags(agentId))).toEqual(flags);
    expect(await redis.client.hgetall(keys.guardrails(agentId))).toEqual(guardrails);
    expect([await redis.client.hgetall(oldKey), await redis.client.hgetall(newKey)]).toEqual(credentials);
  });
});
