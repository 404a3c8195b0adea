import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { SiweMessage } from "viem/siwe";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type NonceResponse, siweMessage } from "../scripts/cli/proxyApi.ts";
import { startChain, type TestChain, testKeys } from "./support/chain.ts";
import {
  callRaw,
  createKey,
  loginOperator,
  type OperatorSession,
  startControlPlane,
  type TestControlPlane,
} from "./support/operator.ts";
import { startRedis, type TestRedis } from "./support/redis.ts";

let redis: TestRedis;
let chain: TestChain;
let cp: TestControlPlane;

beforeAll(async () => {
  redis = await startRedis();
  chain = await startChain();
  cp = await startControlPlane(redis, chain);
});
afterAll(async () => {
  await cp?.close();
  await chain?.close();
  await redis?.close();
});
afterEach(() => {
  vi.useRealTimers();
});

async function nonce(): Promise<NonceResponse> {
  const { status, body } = await callRaw({ proxyUrl: cp.url }, "GET", "/v1/auth/nonce");
  expect(status).toBe(200);
  return body;
}

/** A login request as a wallet would send it, with any field overridden. */
async function signedLogin(privateKey: string, overrides: Partial<SiweMessage> = {}, signer = privateKey) {
  const challenge = await nonce();
  const account = privateKeyToAccount(privateKey as Hex);
  const message = siweMessage(challenge, account.address, overrides);
  const signature = await privateKeyToAccount(signer as Hex).signMessage({ message });
  return { message, signature };
}

function login(body: unknown) {
  return callRaw({ proxyUrl: cp.url }, "POST", "/v1/auth/login", body);
}

describe("sign-in with Ethereum", () => {
  it("gives the wallet an owner key that identifies its operator", async () => {
    const session = await loginOperator(cp.url, testKeys.operator, chain);
    expect(session.operatorKey).toMatch(/^kco_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const me = await callRaw(session, "GET", "/v1/me");
    expect(me.body).toEqual({
      operator: privateKeyToAccount(testKeys.operator).address.toLowerCase(),
      keyId: session.keyId,
      role: "owner",
    });
  });

  it("names the proxy's domain, uri and the deployment's chain in the nonce answer", async () => {
    const challenge = await nonce();
    expect(challenge.domain).toBe(new URL(cp.url).host);
    expect(challenge.uri).toBe(cp.url);
    expect(challenge.chainId).toBe(chain.deployment.chainId);
    expect(challenge.nonce).toMatch(/^[0-9a-f]{32}$/);
  });

  it("stores only the hash of the owner key", async () => {
    const session = await loginOperator(cp.url, testKeys.operator, chain);
    const { rows } = await cp.db.query("SELECT * FROM api_keys WHERE id = $1", [session.keyId]);
    expect(JSON.stringify(rows)).not.toContain(session.operatorKey.slice(22));
    expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses a replayed login", async () => {
    const request = await signedLogin(testKeys.operator);
    expect((await login(request)).status).toBe(201);
    const replay = await login(request);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe("SIWE_NONCE_USED");
  });

  it("lets exactly one of two concurrent logins with one nonce through", async () => {
    const request = await signedLogin(testKeys.operator);
    const answers = await Promise.all([login(request), login(request), login(request)]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 401, 401]);
  });

  it("refuses a message for another chain", async () => {
    const answer = await login(await signedLogin(testKeys.operator, { chainId: 1 }));
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("SIWE_WRONG_CHAIN");
  });

  it("refuses an expired message", async () => {
    const answer = await login(await signedLogin(testKeys.operator, { expirationTime: new Date(Date.now() - 1000) }));
    expect(answer.body.error.code).toBe("SIWE_EXPIRED");
  });

  it("refuses a message that is not valid yet", async () => {
    const answer = await login(await signedLogin(testKeys.operator, { notBefore: new Date(Date.now() + 60_000) }));
    expect(answer.body.error.code).toBe("SIWE_NOT_YET_VALID");
  });

  it("refuses a message without an expiry", async () => {
    const answer = await login(await signedLogin(testKeys.operator, { expirationTime: undefined }));
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("SIWE_MALFORMED");
  });

  it("refuses a message for another domain or uri", async () => {
    const domain = await login(await signedLogin(testKeys.operator, { domain: "evil.example" }));
    expect(domain.body.error.code).toBe("SIWE_WRONG_DOMAIN");
    const uri = await login(await signedLogin(testKeys.operator, { uri: "https://evil.example/login" }));
    expect(uri.body.error.code).toBe("SIWE_WRONG_URI");
  });

  it("refuses a signature by another wallet", async () => {
    const answer = await login(await signedLogin(testKeys.operator, {}, testKeys.otherOperator));
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("SIWE_INVALID_SIGNATURE");
  });

  it("refuses a malformed signature", async () => {
    const { message } = await signedLogin(testKeys.operator);
    const short = await login({ message, signature: "0x1234" });
    expect(short.body.error.code).toBe("SIWE_INVALID_SIGNATURE");
    const notHex = await login({ message, signature: "not a signature" });
    expect(notHex.status).toBe(400);
    expect(notHex.body.error.code).toBe("VALIDATION_FAILED");
  });

  it("refuses a nonce it did not issue", async () => {
    const answer = await login(await signedLogin(testKeys.operator, { nonce: "a1b2c3d4e5f6a7b8c9d0" }));
    expect(answer.body.error.code).toBe("SIWE_NONCE_UNKNOWN");
  });

  it("refuses a nonce past its lifetime", async () => {
    const request = await signedLogin(testKeys.operator, { expirationTime: new Date(Date.now() + 3_600_000) });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + cp.config.siweTtlSeconds * 1000 + 1);
    const answer = await login(request);
    expect(answer.body.error.code).toBe("SIWE_NONCE_EXPIRED");
  });

  it("refuses text that is not an EIP-4361 message", async () => {
    const answer = await login({ message: "let me in", signature: `0x${"11".repeat(65)}` });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("SIWE_MALFORMED");
  });
});

describe("operator API keys", () => {
  let owner: OperatorSession;
  beforeAll(async () => {
    owner = await loginOperator(cp.url, testKeys.operator, chain);
  });

  it("refuses requests without a key, with a malformed key, or with an unknown key", async () => {
    for (const operatorKey of [undefined, "kco_nope", `kco_${"0".repeat(16)}_${"A".repeat(43)}`]) {
      const answer = await callRaw({ proxyUrl: cp.url, operatorKey }, "GET", "/v1/agents");
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe("UNAUTHENTICATED");
    }
  });

  it("refuses a revoked key", async () => {
    const viewer = await createKey(owner, "viewer");
    expect((await callRaw(viewer, "GET", "/v1/agents")).status).toBe(200);
    expect((await callRaw(owner, "DELETE", `/v1/keys/${viewer.keyId}`)).status).toBe(200);
    const answer = await callRaw(viewer, "GET", "/v1/agents");
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("UNAUTHENTICATED");
  });

  it("lists keys without their secrets", async () => {
    const admin = await createKey(owner, "admin", "ci");
    const listed = await callRaw(owner, "GET", "/v1/keys");
    expect(listed.body.keys).toContainEqual(
      expect.objectContaining({ id: admin.keyId, role: "admin", label: "ci", revokedAt: null }),
    );
    expect(JSON.stringify(listed.body)).not.toContain(admin.operatorKey);
  });

  it("lets only owners manage keys", async () => {
    const admin = await createKey(owner, "admin");
    const viewer = await createKey(owner, "viewer");
    for (const session of [admin, viewer]) {
      const create = await callRaw(session, "POST", "/v1/keys", { role: "viewer" });
      expect(create.status).toBe(403);
      expect(create.body.error.code).toBe("ROLE_FORBIDDEN");
      expect((await callRaw(session, "GET", "/v1/keys")).body.error.code).toBe("ROLE_FORBIDDEN");
      expect((await callRaw(session, "DELETE", `/v1/keys/${owner.keyId}`)).body.error.code).toBe("ROLE_FORBIDDEN");
    }
  });

  it("creates only admin and viewer keys", async () => {
    const answer = await callRaw(owner, "POST", "/v1/keys", { role: "owner" });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("VALIDATION_FAILED");
  });

  it("serves the OpenAPI description at /docs", async () => {
    const response = await fetch(`${cp.url}/docs/json`);
    expect(response.status).toBe(200);
    const doc = await response.json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/auth/nonce", "/v1/auth/login", "/v1/agents", "/v1/agents/{agentId}/providers/{name}/enabled"]),
    );
  });
});
