import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "../../test/support/redis.ts";
import { commonReplyAt, parseReply, RedisReplyError, ScriptConnection, script } from "./scriptConnection.ts";

describe("RESP parsing", () => {
  it("parses every reply type and waits for the rest of a split frame", () => {
    // "héllo" is 6 bytes in UTF-8: bulk lengths count bytes.
    const frame = Buffer.from("*5\r\n+OK\r\n:42\r\n$6\r\nhéllo\r\n$-1\r\n*1\r\n$1\r\nx\r\n");
    const whole = parseReply(frame, 0);
    expect(whole?.[0]).toEqual(["OK", 42, "héllo", null, ["x"]]);
    expect(whole?.[1]).toBe(frame.length);
    for (let cut = 1; cut < frame.length; cut++) expect(parseReply(frame.subarray(0, cut), 0)).toBeUndefined();
    expect(parseReply(Buffer.from("-ERR no\r\n"), 0)?.[0]).toBeInstanceOf(RedisReplyError);
  });

  it("answers the common replies in place, exactly as parsing would", () => {
    const frames = ["*2\r\n$2\r\nOK\r\n$1\r\nU\r\n", "*1\r\n$2\r\nOK\r\n", "*0\r\n"];
    const stream = Buffer.from(`+PONG\r\n${frames.join("")}*2\r\n$2\r\nOK\r\n$1\r\nV\r\n`);
    expect(commonReplyAt(stream, 0)).toBeUndefined();
    let offset = 7;
    for (const frame of frames) {
      const common = commonReplyAt(stream, offset);
      expect(common?.reply).toEqual(parseReply(Buffer.from(frame), 0)?.[0]);
      expect(common?.frame.length).toBe(Buffer.byteLength(frame));
      offset += Buffer.byteLength(frame);
    }
    // A look-alike is not taken for a common reply, nor is a frame cut short.
    expect(commonReplyAt(stream, offset)).toBeUndefined();
    expect(commonReplyAt(Buffer.from(frames[0]!.slice(0, 12)), 0)).toBeUndefined();
  });
});

describe("script connection", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.close();
  });

  it("runs pipelined scripts in order and reloads a script Redis forgot", async () => {
    const conn = new ScriptConnection({ url: redis.url, timeoutMs: 1000 });
    try {
      expect(await conn.waitReady(5000)).toBe(true);
      const echo = script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}");
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => conn.run(echo, [`k${i}`], [`v${i}`, String(i)])));
      expect(replies[0]).toEqual(["k0", "v0", 1]);
      expect(replies[199]).toEqual(["k199", "v199", 200]);
      await redis.client.script("FLUSH");
      expect(await conn.run(echo, ["a"], ["b", "1"])).toEqual(["a", "b", 2]);
      await expect(conn.run(script("return redis.error_reply('NOPE')"), [], [])).rejects.toThrow("NOPE");
    } finally {
      await conn.close();
    }
  });

  it("fails at once while Redis is down and reconnects when it is back", async () => {
    const conn = new ScriptConnection({ url: redis.url, timeoutMs: 1000 });
    try {
      await conn.waitReady(5000);
      await redis.stop();
      await expect(conn.run(script("return 1"), [], [])).rejects.toThrow();
      await redis.start();
      expect(await conn.waitReady(10_000)).toBe(true);
      expect(await conn.run(script("return 1"), [], [])).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it("rejects calls to a Redis that stopped answering and starts a fresh connection", async () => {
    const conn = new ScriptConnection({ url: redis.url, timeoutMs: 100 });
    const blocker = new Redis(redis.url);
    try {
      await conn.waitReady(5000);
      // A busy script holds Redis for ~600 ms: the gate's 100 ms deadline passes first.
      const busy = blocker.eval(
        "local s = redis.call('TIME') local t0 = s[1] * 1000000 + s[2] repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - t0 > 600000 return 1",
        0,
      );
      await new Promise((r) => setTimeout(r, 50));
      await expect(conn.run(script("return 2"), [], [])).rejects.toThrow(/did not answer/);
      await busy;
      expect(await conn.waitReady(10_000)).toBe(true);
      expect(await conn.run(script("return 3"), [], [])).toBe(3);
    } finally {
      blocker.disconnect();
      await conn.close();
    }
  });
});
