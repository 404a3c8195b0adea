import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, defaultPriceTable, loadConfig, redactedConfig } from "./config.ts";

const key = "ab".repeat(32);

describe("loadConfig", () => {
  it("applies defaults and freezes the result", () => {
    const config = loadConfig({ KILLCORD_MASTER_KEY: key });
    expect(config).toMatchObject({ host: "127.0.0.1", port: 8787, failOpen: false, suspendTtlSeconds: 86_400, logLevel: "info" });
    expect(config.masterKey).toEqual(Buffer.from(key, "hex"));
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.priceTable)).toBe(true);
  });

  it("refuses to start without a master key outside the local stack", () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
  });

  it("generates and keeps a master key for the local stack", () => {
    const dir = mkdtempSync(join(tmpdir(), "killcord-config-"));
    try {
      const first = loadConfig({ KILLCORD_LOCAL_STACK: "1", KILLCORD_DATA_DIR: dir });
      const second = loadConfig({ KILLCORD_LOCAL_STACK: "1", KILLCORD_DATA_DIR: dir });
      expect(first.masterKeyGenerated).toBe(true);
      expect(second.masterKey).toEqual(first.masterKey);
      expect(statSync(join(dir, "master.key")).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, "master.key"), "utf8").trim()).toBe(first.masterKey.toString("hex"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names bad variables without echoing secret values", () => {
    const secret = "not-a-key-but-secret";
    try {
      loadConfig({ KILLCORD_MASTER_KEY: secret, KILLCORD_PROXY_PORT: "99999" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain("KILLCORD_MASTER_KEY");
      expect((error as Error).message).toContain("KILLCORD_PROXY_PORT");
      expect((error as Error).message).not.toContain(secret);
    }
  });

  it("merges a price table override", () => {
    const config = loadConfig({ KILLCORD_MASTER_KEY: key, KILLCORD_PRICE_TABLE: '{"local-model":{"input":1,"output":2}}' });
    expect(config.priceTable["local-model"]).toEqual({ input: 1, output: 2 });
    expect(config.priceTable["gpt-4o"]).toEqual(defaultPriceTable["gpt-4o"]);
    expect(() => loadConfig({ KILLCORD_MASTER_KEY: key, KILLCORD_PRICE_TABLE: '{"m":{"input":-1,"output":2}}' })).toThrow(
      ConfigError,
    );
  });

  it("takes the indexer's REDIS_URL when KILLCORD_REDIS_URL is unset", () => {
    expect(loadConfig({ KILLCORD_MASTER_KEY: key, REDIS_URL: "redis://127.0.0.1:7001" }).redisUrl).toBe("redis://127.0.0.1:7001");
    expect(
      loadConfig({ KILLCORD_MASTER_KEY: key, REDIS_URL: "redis://127.0.0.1:7001", KILLCORD_REDIS_URL: "redis://127.0.0.1:7002" })
        .redisUrl,
    ).toBe("redis://127.0.0.1:7002");
    expect(loadConfig({ KILLCORD_MASTER_KEY: key }).redisUrl).toBe("redis://127.0.0.1:6379");
  });

  it("redacts secrets for logs", () => {
    const config = loadConfig({ KILLCORD_MASTER_KEY: key, KILLCORD_REDIS_URL: "redis://user:pw@127.0.0.1:6379" });
    const shown = JSON.stringify(redactedConfig(config));
    expect(shown).not.toContain(key);
    expect(shown).not.toContain("pw@");
  });
});
