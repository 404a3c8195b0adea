import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keys } from "../proxy/store/keys.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import { runCli } from "./support/cli.ts";
import { registerTestAgent, startControlPlane, type TestControlPlane } from "./support/operator.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

let redis: TestRedis;
let chain: TestChain;
let cp: TestControlPlane;
let env: Record<string, string>;
let agentId: string;

beforeAll(async () => {
  redis = await startRedis();
  chain = await startChain();
  cp = await startControlPlane(redis, chain);
  env = { ...chain.env, KILLCORD_PROXY_URL: cp.url, KILLCORD_PRIVATE_KEY: testKeys.operator };
  agentId = await registerTestAgent(chain);
});
afterAll(async () => {
  await cp?.close();
  await chain?.close();
  await redis?.close();
});

describe("killcord operator commands", () => {
  let operatorKey: string;

  it("login prints an owner operatorKey", async () => {
    const run = await runCli(["login", "--json"], env);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ role: "owner", operatorKey: expect.stringMatching(/^kco_/) });
    operatorKey = run.json.operatorKey;
    env.KILLCORD_OPERATOR_KEY = operatorKey;
  });

  it("agent add links the agent and prints its credential", async () => {
    const run = await runCli(["agent", "add", agentId, "--name", "cli bot", "--json"], env);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ agentId, linked: true, credential: expect.stringMatching(`^kc_${agentId.slice(2)}_`) });
    const again = await runCli(["agent", "add", agentId, "--json"], env);
    expect(again.json).toMatchObject({ linked: false, credential: expect.stringMatching(/^kc_/) });
  });

  it("provider add reads the key from the named variable, never from argv", async () => {
    const run = await runCli(
      [
        "provider",
        "add",
        agentId,
        "--name",
        "openai",
        "--base-url",
        "https://api.openai.example/v1",
        "--api-key-env",
        "TEST_OPENAI_KEY",
        "--json",
      ],
      { ...env, TEST_OPENAI_KEY: "sk-from-env-7c1d" },
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ name: "openai", enabled: true, key: { last4: "7c1d" } });
    expect(run.stdout).not.toContain("sk-from-env-7c1d");
    expect((await cp.directory.get(agentId, "openai"))?.apiKey).toBe("sk-from-env-7c1d");
    const missing = await runCli(
      [
        "provider",
        "add",
        agentId,
        "--name",
        "other",
        "--base-url",
        "https://x.example",
        "--api-key-env",
        "UNSET_VAR_X",
        "--json",
      ],
      env,
    );
    expect(missing.code).toBe(2);
    expect(missing.json.error.code).toBe("INVALID_ARGUMENT");
  });

  it("tier1 and tier2 flip the gate's flags both ways", async () => {
    expect((await runCli(["tier1", agentId, "openai", "off", "--json"], env)).json).toMatchObject({ enabled: false });
    expect(await redis.client.hget(keys.flags(agentId), "provider:openai")).toBe("0");
    expect((await runCli(["tier1", agentId, "openai", "on", "--json"], env)).json).toMatchObject({ enabled: true });
    expect(await redis.client.hget(keys.flags(agentId), "provider:openai")).toBe("1");
    expect((await runCli(["tier2", agentId, "off", "--reason", "drill", "--json"], env)).json).toMatchObject({ enabled: false });
    expect(await redis.client.hget(keys.flags(agentId), "agent")).toBe("0");
    expect((await runCli(["tier2", agentId, "on", "--json"], env)).json).toMatchObject({ enabled: true });
    expect(await redis.client.hget(keys.flags(agentId), "agent")).toBe("1");
  });

  it("guardrail set writes the limits", async () => {
    const run = await runCli(
      ["guardrail", "set", agentId, "--provider", "openai", "--rpm", "30", "--usd-per-day", "1.5", "--json"],
      env,
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({ provider: "openai", rpm: 30, usdPerDay: 1.5, action: "tier1" });
    expect(await redis.client.hgetall(keys.guardrails(agentId))).toEqual({
      "openai:rpm": "30",
      "openai:usd": "1500000",
      "openai:action": "tier1",
    });
  });

  it("status shows the chain's answer and the proxy's view", async () => {
    const run = await runCli(["status", agentId, "--json"], env);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.json).toMatchObject({
      agentId,
      active: true,
      proxy: { agentId, providers: [{ name: "openai" }], gate: { agentEnabled: true } },
    });
    const human = await runCli(["status", agentId], env);
    expect(human.stdout).toContain("provider  openai");
  });

  it("a viewer key can read but cannot flip a tier", async () => {
    const created = await runCli(["keys", "create", "--role", "viewer", "--json"], env);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    const viewerEnv = { ...env, KILLCORD_OPERATOR_KEY: created.json.key };
    const refused = await runCli(["tier2", agentId, "off", "--json"], viewerEnv);
    expect(refused.code).toBe(6);
    expect(refused.json.error).toMatchObject({ code: "NOT_AUTHORIZED", apiCode: "ROLE_FORBIDDEN", status: 403 });
    expect(await redis.client.hget(keys.flags(agentId), "agent")).toBe("1");
    expect((await runCli(["status", agentId, "--json"], viewerEnv)).json.proxy.agentId).toBe(agentId);
  });

  it("login refuses to sign for a domain other than the proxy URL it talks to", async () => {
    const run = await runCli(["login", "--json"], { ...env, KILLCORD_PROXY_URL: cp.url.replace("127.0.0.1", "localhost") });
    expect(run.code).toBe(2);
    expect(run.json.error.message).toContain("asks to sign in for");
  });
});
