import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seal } from "../crypto/secretBox.ts";
import { type Db, openDb } from "../db/index.ts";
import { createProviderDirectory, providerKeyAad } from "./providerDirectory.ts";

const masterKey = randomBytes(32);
const agentA = `0x${"a1".repeat(32)}`;
const agentB = `0x${"b2".repeat(32)}`;
const wallet = `0x${"0".repeat(39)}1`;

let dir: string;
let db: Db;

async function putConnection(agentId: string, name: string, apiKey: string, baseUrl = "https://api.example.test/v1") {
  const sealed = seal(masterKey, apiKey, providerKeyAad(agentId, name));
  await db.query(
    `INSERT INTO provider_connections (agent_id, name, base_url, style, key_ciphertext, key_nonce, key_version,
       key_last4, key_fingerprint, enabled, created_at, updated_at)
     VALUES ($1, $2, $3, 'openai', $4, $5, $6, '', '', true, 0, 0)
     ON CONFLICT (agent_id, name) DO UPDATE SET base_url = EXCLUDED.base_url, key_ciphertext = EXCLUDED.key_ciphertext,
       key_nonce = EXCLUDED.key_nonce`,
    [agentId, name, baseUrl, sealed.ciphertext, sealed.nonce, sealed.keyVersion],
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "killcord-directory-"));
  db = await openDb({ dataDir: dir });
  await db.query("INSERT INTO operators (wallet, created_at) VALUES ($1, 0)", [wallet]);
  for (const agentId of [agentA, agentB]) {
    await db.query("INSERT INTO agents (agent_id, operator, uid, linked_at, updated_at) VALUES ($1, $2, $1, 0, 0)", [
      agentId,
      wallet,
    ]);
  }
  await putConnection(agentA, "openai", "sk-agent-a-0001");
  await putConnection(agentB, "openai", "sk-agent-b-0002");
});

afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("provider directory", () => {
  it("returns the connection with its decrypted key", async () => {
    const directory = createProviderDirectory(db, masterKey);
    expect(await directory.get(agentA, "openai")).toEqual({
      agentId: agentA,
      name: "openai",
      baseUrl: "https://api.example.test/v1",
      apiKey: "sk-agent-a-0001",
      enabled: true,
      style: "openai",
    });
  });

  it("answers undefined for a connection that does not exist", async () => {
    const directory = createProviderDirectory(db, masterKey);
    expect(await directory.get(agentA, "anthropic")).toBeUndefined();
  });

  it("serves from memory until invalidated", async () => {
    const directory = createProviderDirectory(db, masterKey);
    await putConnection(agentA, "cached", "sk-old-key-0001");
    expect((await directory.get(agentA, "cached"))?.apiKey).toBe("sk-old-key-0001");
    await putConnection(agentA, "cached", "sk-new-key-0002");
    expect((await directory.get(agentA, "cached"))?.apiKey).toBe("sk-old-key-0001");
    directory.invalidate(agentA);
    expect((await directory.get(agentA, "cached"))?.apiKey).toBe("sk-new-key-0002");
  });

  it("reloads once an entry is older than its ttl", async () => {
    let clock = 1_000;
    const directory = createProviderDirectory(db, masterKey, { ttlMs: 100, now: () => clock });
    await putConnection(agentB, "ttl", "sk-ttl-key-0001");
    expect((await directory.get(agentB, "ttl"))?.apiKey).toBe("sk-ttl-key-0001");
    await putConnection(agentB, "ttl", "sk-ttl-key-0002");
    clock += 99;
    expect((await directory.get(agentB, "ttl"))?.apiKey).toBe("sk-ttl-key-0001");
    clock += 2;
    expect((await directory.get(agentB, "ttl"))?.apiKey).toBe("sk-ttl-key-0002");
  });

  it("invalidating one agent keeps the others cached", async () => {
    const directory = createProviderDirectory(db, masterKey);
    await directory.get(agentB, "openai");
    await putConnection(agentB, "openai", "sk-agent-b-0003");
    directory.invalidate(agentA);
    expect((await directory.get(agentB, "openai"))?.apiKey).toBe("sk-agent-b-0002");
    await putConnection(agentB, "openai", "sk-agent-b-0002");
  });

  it("reloads every agent after clear", async () => {
    const directory = createProviderDirectory(db, masterKey);
    await putConnection(agentA, "cleared", "sk-clear-a-0001");
    await putConnection(agentB, "cleared", "sk-clear-b-0001");
    await directory.get(agentA, "cleared");
    await directory.get(agentB, "cleared");
    await putConnection(agentA, "cleared", "sk-clear-a-0002");
    await putConnection(agentB, "cleared", "sk-clear-b-0002");
    expect((await directory.get(agentA, "cleared"))?.apiKey).toBe("sk-clear-a-0001");
    directory.clear();
    expect((await directory.get(agentA, "cleared"))?.apiKey).toBe("sk-clear-a-0002");
    expect((await directory.get(agentB, "cleared"))?.apiKey).toBe("sk-clear-b-0002");
  });

  it("refuses a key sealed for another agent's row", async () => {
    const sealed = seal(masterKey, "sk-stolen-0001", providerKeyAad(agentA, "openai"));
    await putConnection(agentB, "swapped", "placeholder-0000");
    await db.query(
      "UPDATE provider_connections SET key_ciphertext = $1, key_nonce = $2 WHERE agent_id = $3 AND name = 'swapped'",
      [sealed.ciphertext, sealed.nonce, agentB],
    );
    const directory = createProviderDirectory(db, masterKey);
    await expect(directory.get(agentB, "swapped")).rejects.toThrow();
  });

  it("refuses to decrypt under another master key", async () => {
    const directory = createProviderDirectory(db, randomBytes(32));
    await expect(directory.get(agentA, "openai")).rejects.toThrow();
  });
});
