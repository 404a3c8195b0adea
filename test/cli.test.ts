import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killcordRegistryAbi } from "../contracts/abi/KillcordRegistry.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import { runCli } from "./support/cli.ts";
import { freePort } from "./support/ports.ts";

let t: TestChain;
const as = (key: string) => ({ ...t.env, KILLCORD_PRIVATE_KEY: key });
const guardian = privateKeyToAccount(testKeys.guardian).address;
const signer = privateKeyToAccount(testKeys.agentSigner).address;

async function register(args: string[] = [], key: string = testKeys.operator) {
  const run = await runCli(["agent", "register", "--name", "cli-agent", ...args, "--json"], as(key));
  expect(run.code, run.stdout + run.stderr).toBe(0);
  return run.json as { agentId: `0x${string}`; uid: `0x${string}` };
}

async function status(ref: string) {
  const run = await runCli(["status", ref, "--json"], t.env);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  return run.json as { active: boolean; status: string; agentId: string; uid: string; killed: boolean };
}

async function isActiveOnchain(uid: `0x${string}`) {
  const kc = await t.open();
  return kc.publicClient.readContract({
    address: t.deployment.registry,
    abi: killcordRegistryAbi,
    functionName: "isActive",
    args: [uid],
  });
}

beforeAll(async () => {
  t = await startChain();
});
afterAll(async () => {
  await t?.close();
});

describe("killcord CLI against a local chain", () => {
  it("a revoked parent makes its delegated child 'ancestor-inactive'", async () => {
    const parent = await register(["--signer", signer]);
    const child = await register(["--parent", parent.uid]);
    expect(await status(child.uid)).toMatchObject({ active: true, status: "active" });

    const revoked = await runCli(["revoke", parent.agentId, "--json"], as(testKeys.operator));
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.json).toMatchObject({ revoked: true, uid: parent.uid });

    expect(await status(parent.agentId)).toMatchObject({ active: false, status: "revoked", killed: true });
    expect(await status(child.agentId)).toMatchObject({ active: false, status: "ancestor-inactive" });
    expect(await isActiveOnchain(child.uid)).toBe(false);
  });

  it("the parent agent's own signer can delegate a sub-agent", async () => {
    const parent = await register(["--signer", signer]);
    const child = await register(["--parent", parent.uid], testKeys.agentSigner);
    expect(await status(child.uid)).toMatchObject({ active: true });
  });

  it("a guardian kills an operator's agent through the registry", async () => {
    const agent = await register();
    const add = await runCli(["guardian", "add", guardian, "--json"], as(testKeys.operator));
    expect(add.code, add.stderr).toBe(0);
    const kill = await runCli(["kill", agent.agentId, "--reason", "incident 42", "--json"], as(testKeys.guardian));
    expect(kill.code, kill.stdout).toBe(0);
    expect(kill.json).toMatchObject({ killed: true, agentId: agent.agentId, reason: "incident 42" });
    expect(await isActiveOnchain(agent.uid)).toBe(false);
    expect(await status(agent.uid)).toMatchObject({ status: "killed" });

    const again = await runCli(["kill", agent.agentId, "--reason", "twice", "--json"], as(testKeys.guardian));
    expect(again.code).not.toBe(0);
    expect(again.json.error.code).toBe("AGENT_KILLED");
  });

  it("a removed guardian can no longer kill", async () => {
    const agent = await register();
    await runCli(["guardian", "add", guardian], as(testKeys.operator));
    const remove = await runCli(["guardian", "remove", guardian, "--json"], as(testKeys.operator));
    expect(remove.code, remove.stdout).toBe(0);
    const kill = await runCli(["kill", agent.agentId, "--reason", "x", "--json"], as(testKeys.guardian));
    expect(kill.json.error.code).toBe("NOT_AUTHORIZED");
    expect(await isActiveOnchain(agent.uid)).toBe(true);
  });

  it("a fleet kill makes every agent of the operator inactive, and only those", async () => {
    const mine = [await register([], testKeys.otherOperator), await register([], testKeys.otherOperator)];
    const someoneElses = await register();
    const fleet = await runCli(["fleet-kill", "--reason", "key leak", "--json"], as(testKeys.otherOperator));
    expect(fleet.code, fleet.stdout).toBe(0);
    for (const agent of mine) {
      expect(await isActiveOnchain(agent.uid)).toBe(false);
      expect(await status(agent.uid)).toMatchObject({ status: "fleet-killed" });
    }
    expect(await isActiveOnchain(someoneElses.uid)).toBe(true);
    const later = await register([], testKeys.otherOperator);
    expect(await isActiveOnchain(later.uid)).toBe(true);
  });

  it("a signed revocation relayed by another wallet revokes, and a replay is refused", async () => {
    const agent = await register();
    const signed = await runCli(["revoke", agent.agentId, "--sign-only", "--json"], as(testKeys.operator));
    expect(signed.code, signed.stdout).toBe(0);
    expect(signed.json).toMatchObject({ kind: "killcord.delegated-revocation", uid: agent.uid, chainId: 31337 });
    expect(await isActiveOnchain(agent.uid)).toBe(true);

    const file = join(mkdtempSync(join(tmpdir(), "killcord-relay-")), "revocation.json");
    writeFileSync(file, JSON.stringify(signed.json));
    const relayed = await runCli(["relay", file, "--json"], as(testKeys.relayer));
    expect(relayed.code, relayed.stdout).toBe(0);
    expect(await isActiveOnchain(agent.uid)).toBe(false);

    const replay = await runCli(["relay", "-", "--json"], as(testKeys.relayer), JSON.stringify(signed.json));
    expect(replay.code).not.toBe(0);
    expect(replay.json.error.code).toBe("INVALID_SIGNATURE");
  });

  it("refuses a tampered or malformed signed revocation", async () => {
    const agent = await register();
    const signed = await runCli(["revoke", agent.agentId, "--sign-only", "--json"], as(testKeys.operator));
    const tampered = { ...signed.json, signature: `${signed.json.signature.slice(0, -4)}beef` };
    const bad = await runCli(["relay", "-", "--json"], as(testKeys.relayer), JSON.stringify(tampered));
    expect(bad.json.error.code).toBe("INVALID_SIGNATURE");
    const wrongChain = await runCli(
      ["relay", "-", "--json"],
      as(testKeys.relayer),
      JSON.stringify({ ...signed.json, chainId: 1 }),
    );
    expect(wrongChain.json.error.code).toBe("WRONG_CHAIN");
    const garbage = await runCli(["relay", "-", "--json"], as(testKeys.relayer), "{not json");
    expect(garbage.json.error.code).toBe("INVALID_SIGNATURE");
    expect(await isActiveOnchain(agent.uid)).toBe(true);
  });

  it("a killed agentId cannot be registered again", async () => {
    const agent = await register();
    await runCli(["kill", agent.agentId, "--reason", "done"], as(testKeys.operator));
    const again = await runCli(
      ["agent", "register", "--name", "again", "--agent-id", agent.agentId, "--json"],
      as(testKeys.operator),
    );
    expect(again.code).not.toBe(0);
    expect(again.json.error).toMatchObject({ code: "AGENT_KILLED", error: "AgentIdKilled" });
  });

  it("re-registering a live agentId rotates it: the old uid is superseded", async () => {
    const first = await register();
    const second = await register(["--agent-id", first.agentId]);
    expect(await status(first.uid)).toMatchObject({ active: false, status: "superseded" });
    expect(await status(first.agentId)).toMatchObject({ active: true, uid: second.uid });
  });
});

describe("killcord CLI errors", () => {
  it("an unknown agent exits non-zero with UNKNOWN_AGENT", async () => {
    const run = await runCli(["status", `0x${"ab".repeat(32)}`, "--json"], t.env);
    expect(run.code).not.toBe(0);
    expect(run.json.error.code).toBe("UNKNOWN_AGENT");
    const human = await runCli(["status", `0x${"ab".repeat(32)}`], t.env);
    expect(human.stderr).toMatch(/no Killcord agent has agentId or uid/);
  });

  it("revoking from a wallet that is not the attester is refused before sending", async () => {
    const agent = await register();
    const run = await runCli(["revoke", agent.agentId, "--json"], as(testKeys.otherOperator));
    expect(run.json.error.code).toBe("NOT_ATTESTER");
    expect(await isActiveOnchain(agent.uid)).toBe(true);
  });

  it("another operator cannot take over an agentId", async () => {
    const agent = await register();
    const run = await runCli(
      ["agent", "register", "--name", "x", "--agent-id", agent.agentId, "--json"],
      as(testKeys.otherOperator),
    );
    expect(run.json.error).toMatchObject({ code: "NOT_AUTHORIZED", error: "AgentIdTaken" });
  });

  it("an unreachable RPC exits with RPC_UNREACHABLE", async () => {
    const port = await freePort();
    const run = await runCli(["status", `0x${"ab".repeat(32)}`, "--json"], {
      ...t.env,
      KILLCORD_RPC_URL: `http://127.0.0.1:${port}`,
    });
    expect(run.code).toBe(3);
    expect(run.json.error.code).toBe("RPC_UNREACHABLE");
  });

  it("a chain other than the expected one exits with WRONG_CHAIN", async () => {
    const run = await runCli(["status", `0x${"ab".repeat(32)}`, "--json"], { ...t.env, KILLCORD_CHAIN_ID: "1" });
    expect(run.json.error.code).toBe("WRONG_CHAIN");
  });

  it("a chain without a deployment exits with NOT_DEPLOYED", async () => {
    const empty = mkdtempSync(join(tmpdir(), "killcord-empty-"));
    const run = await runCli(["status", `0x${"ab".repeat(32)}`, "--json"], { ...t.env, KILLCORD_DEPLOYMENTS_DIR: empty });
    expect(run.json.error.code).toBe("NOT_DEPLOYED");
  });

  it("malformed ids, missing flags and unknown commands exit with INVALID_ARGUMENT", async () => {
    expect((await runCli(["status", "0x1234", "--json"], t.env)).json.error.code).toBe("INVALID_ARGUMENT");
    expect((await runCli(["kill", `0x${"ab".repeat(32)}`, "--json"], as(testKeys.operator))).json.error.code).toBe(
      "INVALID_ARGUMENT",
    );
    expect((await runCli(["agent", "register", "--json"], as(testKeys.operator))).json.error.code).toBe("INVALID_ARGUMENT");
    expect((await runCli(["frobnicate", "--json"], t.env)).json.error.code).toBe("INVALID_ARGUMENT");
    expect((await runCli(["status", "--bogus", "--json"], t.env)).json.error.code).toBe("INVALID_ARGUMENT");
  });

  it("a transaction without a wallet exits with MISSING_WALLET", async () => {
    const run = await runCli(["kill", `0x${"ab".repeat(32)}`, "--reason", "x", "--json"], { ...t.env, KILLCORD_PRIVATE_KEY: "" });
    expect(run.json.error.code).toBe("MISSING_WALLET");
  });
});
