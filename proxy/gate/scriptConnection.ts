/**
 * The gate's own Redis connection: it only runs Lua scripts (EVALSHA, EVAL after a restart emptied the
 * script cache), pipelined, with no per-command objects or timers. ioredis costs several times more CPU per
 * call, and the gate makes one call per proxied request: this is the data plane's hottest path.
 *
 * - Commands leave in batches, one write per turn of the event loop (pipelined: the commands of one turn go
 *   out together, whatever is still awaiting replies). Under load a turn gathers ~10 commands, so the gate
 *   costs a fraction of a write and a read per request. Replies come back in order and settle a FIFO of
 *   promises. An earlier version held new commands while a batch was out (group commit): larger batches,
 *   but every request then waited for the previous batch's round trip too, lived longer in the heap and cost
 *   more CPU (bench: (c)/(b) 0.62-0.67 with it, 0.66-0.78 without, in interleaved runs).
 * - Not connected: `run` rejects at once (the gate fails closed); it never queues for later.
 * - Deadline: one sweeper checks the oldest outstanding call; past `timeoutMs` the connection is presumed
 *   hung, every outstanding call is rejected and the connection is replaced.
 * - Reconnects forever with backoff; supports redis:// and rediss:// URLs with user, password and db.
 */

import { createHash } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** A RESP reply: a status/bulk string, an integer, null, or an array of replies. Errors reject instead. */
export type Reply = string | number | null | Reply[];

export class RedisReplyError extends Error {
  override name = "RedisReplyError";
}

export class ScriptConnectionError extends Error {
  override name = "ScriptConnectionError";
}

interface Pending {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  at: number;
  /** For EVALSHA: the call, re-sent with EVAL if Redis answers NOSCRIPT. Undefined for other commands. */
  call?: PreparedCall;
}

/** A script call encoded once (EVALSHA), reusable for as long as its keys and arguments hold. */
export interface PreparedCall {
  readonly frame: Buffer;
  readonly script: Script;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

export interface Script {
  lua: string;
  sha: string;
}

/** A Lua script with its SHA-1, as EVALSHA wants it. */
export function script(lua: string): Script {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

function bulk(value: string): string {
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}

function command(parts: readonly string[]): string {
  let out = `*${parts.length}\r\n`;
  for (const p of parts) out += bulk(p);
  return out;
}

/**
 * Incremental RESP2 parser. Returns the reply and the offset after it, or undefined when `buf` ends inside
 * the frame (wait for more bytes). Error replies come back as RedisReplyError values.
 */
export function parseReply(buf: Buffer, offset: number): [Reply | RedisReplyError, number] | undefined {
  if (offset >= buf.length) return undefined;
  const lineEnd = buf.indexOf("\r\n", offset);
  if (lineEnd < 0) return undefined;
  const type = buf[offset];
  const line = buf.toString("latin1", offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case 43: // +
      return [line, next];
    case 45: // -
      return [new RedisReplyError(line), next];
    case 58: // :
      return [Number(line), next];
    case 36: {
      // $
      const length = Number(line);
      if (length < 0) return [null, next];
      if (next + length + 2 > buf.length) return undefined;
      return [buf.toString("utf8", next, next + length), next + length + 2];
    }
    case 42: {
      // *
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (item === undefined) return undefined;
        // An error nested in an array (not produced by our scripts) is kept as its message.
        items.push(item[0] instanceof RedisReplyError ? item[0].message : item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new ScriptConnectionError(`unexpected RESP type byte ${type}`);
  }
}

/**
 * The replies nearly every call gets (the gate's allow, counted or not, and the meter's "no breach"), as
 * their exact bytes: matched in place and answered with one shared, frozen value instead of parsed into new
 * strings and arrays for every request.
 */
const commonReplies: readonly { frame: Buffer; reply: Reply }[] = [
  { frame: Buffer.from("*2\r\n$2\r\nOK\r\n$1\r\nU\r\n"), reply: Object.freeze(["OK", "U"]) as Reply[] },
  { frame: Buffer.from("*1\r\n$2\r\nOK\r\n"), reply: Object.freeze(["OK"]) as Reply[] },
  { frame: Buffer.from("*0\r\n"), reply: Object.freeze([] as Reply[]) as Reply[] },
];

/** The common reply starting at `offset`, if it is one (see commonReplies). */
export function commonReplyAt(buf: Buffer, offset: number): { frame: Buffer; reply: Reply } | undefined {
  if (buf[offset] !== 42 /* * */) return undefined;
  for (const common of commonReplies) {
    const end = offset + common.frame.length;
    if (end <= buf.length && buf.compare(common.frame, 0, common.frame.length, offset, end) === 0) return common;
  }
  return undefined;
}

/** Encodes an EVALSHA call once. */
export function prepare(s: Script, keys: readonly string[], args: readonly string[]): PreparedCall {
  return { frame: Buffer.from(command(["EVALSHA", s.sha, String(keys.length), ...keys, ...args])), script: s, keys, args };
}

export interface ScriptConnectionOptions {
  url: string;
  /** An outstanding call older than this (ms) declares the connection hung. */
  timeoutMs: number;
  connectTimeoutMs?: number;
  /** Told when the connection comes up (true) or goes down (false, with why). */
  onStatus?(ready: boolean, error?: Error): void;
}

export class ScriptConnection {
  readonly #options: ScriptConnectionOptions;
  readonly #url: URL;
  #socket: Socket | undefined;
  #ready = false;
  #closed = false;
  #attempt = 0;
  #pending: Pending[] = [];
  #head = 0;
  #out: (string | Buffer)[] = [];
  #flushScheduled = false;
  #buffer: Buffer | undefined;
  #sweeper: NodeJS.Timeout;
  #readyWaiters: (() => void)[] = [];

  constructor(options: ScriptConnectionOptions) {
    this.#options = options;
    this.#url = new URL(options.url);
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(10, Math.floor(options.timeoutMs / 4)));
    this.#sweeper.unref();
    this.#connect();
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Writes and commands so far: commands per write shows how well calls are batched. */
  readonly stats = { writes: 0, commands: 0 };

  /** Resolves when ready, or after `ms` (to false). */
  waitReady(ms: number): Promise<boolean> {
    if (this.#ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#readyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Runs a script (EVALSHA, falling back to EVAL once if Redis lost its script cache). */
  run(s: Script, keys: string[], args: string[]): Promise<Reply> {
    return this.runPrepared(prepare(s, keys, args));
  }

  /** Runs a call encoded by `prepare` (the gate reuses one per agent, provider and minute). */
  runPrepared(call: PreparedCall): Promise<Reply> {
    if (!this.#ready) return Promise.reject(new ScriptConnectionError("redis not connected"));
    return new Promise((resolve, reject) => {
      this.#send(call.frame, { resolve, reject, at: Date.now(), call });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#fail(new ScriptConnectionError("connection closed"));
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #send(frame: string | Buffer, pending: Pending): void {
    this.#pending.push(pending);
    this.#out.push(frame);
    // Leaves with the others of this turn of the event loop.
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#out.length === 0) return;
    const out = this.#out;
    this.#out = [];
    const socket = this.#socket;
    if (socket === undefined) return;
    this.stats.writes++;
    this.stats.commands += out.length;
    // One writev for the whole batch.
    socket.cork();
    for (const frame of out) socket.write(frame);
    socket.uncork();
  }

  #connect(): void {
    if (this.#closed) return;
    const url = this.#url;
    const port = Number(url.port || 6379);
    const host = url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
    const socket =
      url.protocol === "rediss:" ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port, noDelay: true });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const connectTimer = setTimeout(
      () => socket.destroy(new ScriptConnectionError("connect timeout")),
      this.#options.connectTimeoutMs ?? 5000,
    );
    socket.once(url.protocol === "rediss:" ? "secureConnect" : "connect", () => {
      clearTimeout(connectTimer);
      void this.#handshake(socket);
    });
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {
      // Followed by "close", where the failure is handled.
    });
    socket.once("close", () => {
      clearTimeout(connectTimer);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      const wasReady = this.#ready;
      this.#ready = false;
      this.#buffer = undefined;
      this.#fail(new ScriptConnectionError("redis connection lost"));
      if (wasReady) this.#options.onStatus?.(false, new ScriptConnectionError("redis connection lost"));
      if (!this.#closed) {
        this.#attempt++;
        setTimeout(() => this.#connect(), Math.min(50 * this.#attempt, 1000)).unref();
      }
    });
  }

  /** AUTH and SELECT from the URL, then ready. Runs on the raw socket before anything else is sent. */
  async #handshake(socket: Socket): Promise<void> {
    const url = this.#url;
    const setup: string[][] = [];
    if (url.password !== "") {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      setup.push(user === "" ? ["AUTH", password] : ["AUTH", user, password]);
    }
    const db = url.pathname.replace(/^\//, "");
    if (db !== "" && db !== "0") setup.push(["SELECT", db]);
    try {
      for (const parts of setup) {
        await new Promise<Reply>((resolve, reject) => {
          this.#pending.push({ resolve, reject, at: Date.now() });
          socket.write(command(parts));
        });
      }
    } catch (error) {
      socket.destroy(error as Error);
      return;
    }
    if (this.#socket !== socket) return;
    this.#ready = true;
    this.#attempt = 0;
    this.#options.onStatus?.(true);
    for (const waiter of this.#readyWaiters.splice(0)) waiter();
  }

  #onData(chunk: Buffer): void {
    let buf = this.#buffer === undefined ? chunk : Buffer.concat([this.#buffer, chunk]);
    let offset = 0;
    for (;;) {
      const common = commonReplyAt(buf, offset);
      if (common !== undefined) {
        offset += common.frame.length;
        this.#settle(common.reply);
        continue;
      }
      let parsed: ReturnType<typeof parseReply>;
      try {
        parsed = parseReply(buf, offset);
      } catch (error) {
        // The stream is out of step: nothing after this point can be trusted.
        this.#socket?.destroy(error as Error);
        return;
      }
      if (parsed === undefined) break;
      offset = parsed[1];
      this.#settle(parsed[0]);
    }
    buf = offset === buf.length ? Buffer.alloc(0) : buf.subarray(offset);
    this.#buffer = buf.length === 0 ? undefined : buf;
  }

  #settle(reply: Reply | RedisReplyError): void {
    const pending = this.#pending[this.#head];
    if (pending === undefined) return;
    this.#pending[this.#head] = undefined as unknown as Pending;
    this.#head++;
    // Compact the FIFO now and then instead of shifting on every reply.
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    if (reply instanceof RedisReplyError) {
      if (pending.call !== undefined && reply.message.startsWith("NOSCRIPT")) {
        const { script, keys, args } = pending.call;
        // EVAL also reloads the script, so later EVALSHAs find it again.
        this.#send(command(["EVAL", script.lua, String(keys.length), ...keys, ...args]), { ...pending, call: undefined });
        return;
      }
      pending.reject(reply);
      return;
    }
    pending.resolve(reply);
  }

  #fail(error: Error): void {
    const outstanding = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    this.#out = [];
    for (const p of outstanding) p.reject(error);
  }

  #sweep(): void {
    const oldest = this.#pending[this.#head];
    if (oldest === undefined || Date.now() - oldest.at <= this.#options.timeoutMs) return;
    const error = new ScriptConnectionError(`redis did not answer within ${this.#options.timeoutMs} ms`);
    this.#fail(error);
    // Replies still on their way would now settle the wrong calls: start over on a fresh connection.
    this.#socket?.destroy(error);
  }
}
