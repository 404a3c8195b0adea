/**
 * Sign-In with Ethereum (EIP-4361) for operators: the proxy issues a single-use nonce; the operator's wallet
 * signs a message naming the proxy's domain and URI, the deployment's chain, that nonce and an expiry; the
 * proxy checks every field, the signature, and consumes the nonce atomically (a replay finds it used).
 */
import { randomBytes } from "node:crypto";
import { type Address, getAddress, type Hex, isAddress } from "viem";
import { parseSiweMessage } from "viem/siwe";
import type { Db } from "../../db/index.ts";
import { ControlError } from "../errors.ts";
import type { ChainReader } from "../onchain.ts";

/** Sign-in nonces outstanding at once (unused, unexpired); more are refused, so the endpoint cannot fill the store. */
const maxOutstandingNonces = 10_000;
/** Clock skew tolerated on `issuedAt` (ms). */
const clockSkewMs = 60_000;

export interface SiweSettings {
  /** The proxy's public base URL: its host is the SIWE domain, its origin the URI's. */
  publicUrl: string;
  /** Lifetime of a nonce, in seconds. */
  ttlSeconds: number;
}

export interface IssuedNonce {
  nonce: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * A fresh nonce from the OS's CSPRNG (viem's generateSiweNonce uses Math.random, which is predictable):
 * 128 bits as 32 hex characters, alphanumeric as EIP-4361 requires.
 */
export function newNonce(): string {
  return randomBytes(16).toString("hex");
}

export async function issueNonce(db: Db, settings: SiweSettings, now: number): Promise<IssuedNonce> {
  // Expired and used nonces are kept for one more lifetime so that late replays still read "used"/"expired".
  await db.query("DELETE FROM siwe_nonces WHERE expires_at < $1", [now - settings.ttlSeconds * 1000]);
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::integer AS n FROM siwe_nonces WHERE used_at IS NULL AND expires_at > $1",
    [now],
  );
  if ((rows[0]?.n ?? 0) >= maxOutstandingNonces) throw new ControlError("TOO_MANY_NONCES");
  const issued = { nonce: newNonce(), issuedAt: now, expiresAt: now + settings.ttlSeconds * 1000 };
  await db.query("INSERT INTO siwe_nonces (nonce, issued_at, expires_at) VALUES ($1, $2, $3)", [
    issued.nonce,
    issued.issuedAt,
    issued.expiresAt,
  ]);
  return issued;
}

export interface VerifiedLogin {
  address: Address;
  nonce: string;
  expiresAt: number;
}

function malformed(message: string): ControlError {
  return new ControlError("SIWE_MALFORMED", { message });
}

function time(date: Date | undefined, field: string): number | undefined {
  if (date === undefined) return undefined;
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw malformed(`${field} is not an RFC 3339 date-time`);
  return ms;
}

/**
 * Checks an EIP-4361 message and its signature against the proxy's domain, URI and chain, the clock and the
 * nonce table (without consuming the nonce: see consumeNonce). Refusals carry stable SIWE_* codes.
 */
export async function verifyLogin(
  db: Db,
  chain: ChainReader,
  settings: SiweSettings,
  input: { message: string; signature: Hex },
  now: number,
): Promise<VerifiedLogin> {
  const fields = parseSiweMessage(input.message);
  if (fields.address === undefined || !isAddress(fields.address, { strict: false }))
    throw malformed("missing or invalid address");
  if (fields.domain === undefined) throw malformed("missing domain");
  if (fields.uri === undefined) throw malformed("missing URI");
  if (fields.version !== "1") throw malformed("version must be 1");
  if (fields.chainId === undefined || !Number.isSafeInteger(fields.chainId)) throw malformed("missing Chain ID");
  if (fields.nonce === undefined || !/^[A-Za-z0-9]{8,}$/.test(fields.nonce)) throw malformed("missing or invalid nonce");
  const issuedAt = time(fields.issuedAt, "Issued At");
  const expiresAt = time(fields.expirationTime, "Expiration Time");
  const notBefore = time(fields.notBefore, "Not Before");
  if (issuedAt === undefined) throw malformed("missing Issued At");
  // The proxy requires an expiry: a signed login message must not stay usable forever.
  if (expiresAt === undefined) throw malformed("missing Expiration Time");

  const publicUrl = new URL(settings.publicUrl);
  if (fields.domain !== publicUrl.host) {
    throw new ControlError("SIWE_WRONG_DOMAIN", { details: { expected: publicUrl.host, got: fields.domain } });
  }
  if (fields.scheme !== undefined && `${fields.scheme}:` !== publicUrl.protocol) {
    throw new ControlError("SIWE_WRONG_DOMAIN", { message: "the message was written for another scheme" });
  }
  let uriOrigin: string;
  try {
    uriOrigin = new URL(fields.uri).origin;
  } catch {
    throw malformed("URI is not a URL");
  }
  if (uriOrigin !== publicUrl.origin) {
    throw new ControlError("SIWE_WRONG_URI", { details: { expected: publicUrl.origin, got: fields.uri } });
  }
  const chainId = await chain.chainId();
  if (fields.chainId !== chainId)
    throw new ControlError("SIWE_WRONG_CHAIN", { details: { expected: chainId, got: fields.chainId } });
  if (expiresAt <= now) throw new ControlError("SIWE_EXPIRED");
  if (notBefore !== undefined && notBefore > now) throw new ControlError("SIWE_NOT_YET_VALID");
  if (issuedAt > now + clockSkewMs) throw new ControlError("SIWE_NOT_YET_VALID", { message: "Issued At is in the future" });

  // Cheap nonce checks before the signature (which may need the chain); consumeNonce re-checks atomically.
  await checkNonce(db, fields.nonce, now);

  const address = getAddress(fields.address);
  if (!(await chain.verifyMessage(address, input.message, input.signature))) throw new ControlError("SIWE_INVALID_SIGNATURE");
  return { address, nonce: fields.nonce, expiresAt };
}

async function checkNonce(db: Db, nonce: string, now: number): Promise<void> {
  const { rows } = await db.query<{ expires_at: number; used_at: number | null }>(
    "SELECT expires_at, used_at FROM siwe_nonces WHERE nonce = $1",
    [nonce],
  );
  const row = rows[0];
  if (row === undefined) throw new ControlError("SIWE_NONCE_UNKNOWN");
  if (row.used_at !== null) throw new ControlError("SIWE_NONCE_USED");
  if (row.expires_at <= now) throw new ControlError("SIWE_NONCE_EXPIRED");
}

/** Marks the nonce used, exactly once: of two concurrent logins with one nonce, one wins. */
export async function consumeNonce(db: Db, nonce: string, now: number): Promise<void> {
  const { rows } = await db.query(
    "UPDATE siwe_nonces SET used_at = $2 WHERE nonce = $1 AND used_at IS NULL AND expires_at > $2 RETURNING nonce",
    [nonce, now],
  );
  if (rows.length === 1) return;
  await checkNonce(db, nonce, now);
  throw new ControlError("SIWE_NONCE_USED");
}
