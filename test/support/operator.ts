/**
 * An operator's real flow against a running proxy, over HTTP: sign in with the wallet (SIWE), link an
 * onchain agent, issue its credential, add provider connections, flip Tier 1/2, set guardrails, create admin
 * and viewer keys. Also `startControlPlane`: the control plane alone on a real fastify server (temp PGlite,
 * the given test Redis and chain), for tests that do not need the data plane.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { loadConfig, type ProxyConfig } from "../../proxy/config.ts";
import { controlPlane } from "../../proxy/control/plugin.ts";
import { createProviderDirectory, type ProviderDirectory } from "../../proxy/control/providerDirectory.ts";
import { type Db, openDb } from "../../proxy/db/index.ts";
import { registerAgent } from "../../scripts/actions/registerAgent.ts";
import { type LoginResult, proxyRequest, signIn } from "../../scripts/cli/proxyApi.ts";
import type { TestChain } from "./chain.ts";
import { testKeys } from "./chain.ts";
import { freePort } from "./ports.ts";
import type { TestRedis } from "./redis.ts";

/** A signed-in operator (or one of its admin/viewer keys) at one proxy. */
export interface OperatorSession {
  proxyUrl: string;
  /** The operator's wallet (checksummed). */
  operator: string;
  operatorKey: string;
  keyId: string;
  role: "owner" | "admin" | "viewer";
}

/** Signs in with the wallet's private key (SIWE) and returns the owner session. */
export async function loginOperator(
  proxyUrl: string,
  privateKey: string,
  chain: Pick<TestChain, "deployment">,
): Promise<OperatorSession> {
  const login: LoginResult = await signIn(proxyUrl, privateKeyToAccount(privateKey as Hex), {
    expectedChainId: chain.deployment.chainId,
  });
  return { proxyUrl, operator: login.operator, operatorKey: login.operatorKey, keyId: login.keyId, role: "owner" };
}

/** One operator API call with the session's key; throws ProxyApiError (with `.apiCode`, `.status`) on refusal. */
export function call<T = Record<string, any>>(
  session: OperatorSession,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  return proxyRequest<T>(session.proxyUrl, session.operatorKey, method, path, body);
}

/** Like `call`, but resolves the status and body of refusals too (for asserting error codes). */
export async function callRaw(
  session: Pick<OperatorSession, "proxyUrl"> & { operatorKey?: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (session.operatorKey !== undefined) headers.authorization = `Bearer ${session.operatorKey}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${session.proxyUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? {} : JSON.parse(text) };
}

/** Creates an admin or viewer key (owners only) and returns a session using it. */
export async function createKey(owner: OperatorSession, role: "admin" | "viewer", label?: string): Promise<OperatorSession> {
  const created = await call<{ id: string; key: string }>(owner, "POST", "/v1/keys", {
    role,
    ...(label === undefined ? {} : { label }),
  });
  return { ...owner, operatorKey: created.key, keyId: created.id, role };
}

/** Attests a new agent onchain from `privateKey`'s wallet (default: the test operator); returns its agentId. */
export async function registerTestAgent(
  chain: TestChain,
  privateKey: string = testKeys.operator,
  name = "test agent",
): Promise<Hex> {
  const kc = await chain.open(privateKey);
  const agent = await registerAgent(kc, { name });
  return agent.agentId;
}

export function linkAgent(session: OperatorSession, agentId: string, name?: string) {
  return call(session, "POST", "/v1/agents", { agentId, ...(name === undefined ? {} : { name }) });
}

/** Issues a credential; resolves the credential string (shown once). */
export async function issueCredential(session: OperatorSession, agentId: string, label?: string): Promise<string> {
  const issued = await call<{ credential: string }>(
    session,
    "POST",
    `/v1/agents/${agentId}/credentials`,
    label === undefined ? {} : { label },
  );
  return issued.credential;
}

export function revokeCredential(session: OperatorSession, agentId: string, credentialId: string) {
  return call(session, "DELETE", `/v1/agents/${agentId}/credentials/${credentialId}`);
}

export interface ProviderInput {
  name: string;
  baseUrl: string;
  apiKey: string;
  style?: "openai" | "anthropic";
  enabled?: boolean;
}

export function addProvider(session: OperatorSession, agentId: string, provider: ProviderInput) {
  return call(session, "POST", `/v1/agents/${agentId}/providers`, provider);
}

export function setTier1(session: OperatorSession, agentId: string, provider: string, enabled: boolean, reason?: string) {
  return call(session, "PUT", `/v1/agents/${agentId}/providers/${provider}/enabled`, {
    enabled,
    ...(reason === undefined ? {} : { reason }),
  });
}

export function setTier2(session: OperatorSession, agentId: string, enabled: boolean, reason?: string) {
  return call(session, "PUT", `/v1/agents/${agentId}/enabled`, { enabled, ...(reason === undefined ? {} : { reason }) });
}

export interface GuardrailInput {
  provider?: string;
  rpm?: number;
  rpd?: number;
  usdPerDay?: number;
  action?: "tier1" | "tier2";
}

export function setGuardrail(session: OperatorSession, agentId: string, guardrail: GuardrailInput) {
  return call(session, "PUT", `/v1/agents/${agentId}/guardrails`, guardrail);
}

export function agentView(session: OperatorSession, agentId: string) {
  return call(session, "GET", `/v1/agents/${agentId}`);
}

/**
 * The whole onboarding in one step: register an agent onchain, sign in (unless a session is given), link it,
 * add the providers, issue a credential.
 */
export async function onboardAgent(
  proxyUrl: string,
  chain: TestChain,
  options: { privateKey?: string; session?: OperatorSession; providers?: ProviderInput[]; name?: string } = {},
): Promise<{ session: OperatorSession; agentId: Hex; credential: string }> {
  const privateKey = options.privateKey ?? testKeys.operator;
  const agentId = await registerTestAgent(chain, privateKey, options.name);
  const session = options.session ?? (await loginOperator(proxyUrl, privateKey, chain));
  await linkAgent(session, agentId, options.name);
  for (const provider of options.providers ?? []) await addProvider(session, agentId, provider);
  const credential = await issueCredential(session, agentId);
  return { session, agentId, credential };
}

/** The control plane alone, on a real fastify server: what control-plane tests run against. */
export interface TestControlPlane {
  url: string;
  app: FastifyInstance;
  db: Db;
  /** The client the plugin was given (it opens its own connection from it). */
  redis: Redis;
  config: ProxyConfig;
  directory: ProviderDirectory;
  close(): Promise<void>;
}

export async function startControlPlane(
  redis: TestRedis,
  chain: TestChain,
  options: { databaseUrl?: string } = {},
): Promise<TestControlPlane> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "killcord-control-"));
  const config = loadConfig({
    KILLCORD_PROXY_PORT: String(port),
    KILLCORD_REDIS_URL: redis.url,
    KILLCORD_DATA_DIR: dataDir,
    KILLCORD_MASTER_KEY: randomBytes(32).toString("hex"),
    KILLCORD_RPC_URL: chain.chain.rpcUrl,
    KILLCORD_DEPLOYMENTS_DIR: chain.deploymentsDir,
    KILLCORD_LOG_LEVEL: "silent",
    ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
  });
  const db = await openDb(config);
  const client = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  client.on("error", () => {
    // Tests stop Redis on purpose; reconnection is automatic.
  });
  const directory = createProviderDirectory(db, config.masterKey);
  const app = Fastify({ logger: false });
  await app.register(controlPlane, { db, redis: client, config, directory });
  await app.listen({ host: config.host, port: config.port });
  return {
    url: config.publicUrl,
    app,
    db,
    redis: client,
    config,
    directory,
    async close() {
      await app.close();
      client.disconnect();
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
