import { describe, expect, it } from "vitest";
import { loadSettings, packageRoot, redactUrl } from "./settings.ts";

describe("indexer settings", () => {
  it("defaults to a local node, local Redis and PGlite under .killcord", () => {
    const s = loadSettings({});
    expect(s).toMatchObject({
      rpcUrl: "http://127.0.0.1:8545",
      wsUrl: undefined,
      redisUrl: "redis://127.0.0.1:6379",
      database: { kind: "pglite", dataDir: `${packageRoot}.killcord/indexer` },
      databaseSchema: "killcord",
      reconcileIntervalMs: 30_000,
      chainCheckIntervalMs: 5_000,
    });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it("selects Postgres with DATABASE_URL and prefers REDIS_URL over KILLCORD_REDIS_URL", () => {
    const s = loadSettings({
      DATABASE_URL: "postgres://u:p@db:5432/kc",
      REDIS_URL: "redis://a:6379",
      KILLCORD_REDIS_URL: "redis://b:6379",
    });
    expect(s.database).toEqual({ kind: "postgres", connectionString: "postgres://u:p@db:5432/kc" });
    expect(s.redisUrl).toBe("redis://a:6379");
  });

  it("names every invalid variable", () => {
    let message = "";
    try {
      loadSettings({ KILLCORD_WS_URL: "http://x", KILLCORD_INDEXER_RECONCILE_MS: "soon", DATABASE_SCHEMA: "ponder_sync" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("KILLCORD_WS_URL must be a ws: or wss: URL");
    expect(message).toContain("KILLCORD_INDEXER_RECONCILE_MS");
    expect(message).toContain("DATABASE_SCHEMA is reserved");
  });

  it("treats empty variables as unset", () => {
    expect(loadSettings({ DATABASE_URL: "", KILLCORD_WS_URL: "" }).database.kind).toBe("pglite");
  });

  it("hides credentials in URLs it logs", () => {
    expect(redactUrl("postgres://user:secret@db:5432/kc")).toBe("postgres://***:***@db:5432/kc");
    expect(redactUrl("redis://:secret@cache:6379")).toBe("redis://:***@cache:6379");
    expect(redactUrl("not a url")).toBe("<unparseable url>");
  });
});
