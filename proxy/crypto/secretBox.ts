/**
 * Provider keys at rest: AES-256-GCM under the master key (KILLCORD_MASTER_KEY). Each secret gets a fresh
 * 12-byte nonce, and the associated data binds the ciphertext to its row (agent and connection name), so a
 * ciphertext copied onto another row fails to decrypt instead of handing one agent another agent's key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** Bumped when the master key rotates; stored beside each ciphertext. */
export const masterKeyVersion = 1;

const tagBytes = 16;

export interface SealedSecret {
  /** Ciphertext followed by the 16-byte GCM tag. */
  ciphertext: Buffer;
  nonce: Buffer;
  keyVersion: number;
}

function requireKey(masterKey: Buffer): void {
  if (masterKey.length !== 32) throw new Error("the master key must be 32 bytes");
}

export function seal(masterKey: Buffer, plaintext: string, associatedData: string): SealedSecret {
  requireKey(masterKey);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", masterKey, nonce, { authTagLength: tagBytes });
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext, nonce, keyVersion: masterKeyVersion };
}

/** Decrypts a sealed secret; throws when the key, the associated data or the bytes are wrong. */
export function open(masterKey: Buffer, sealed: SealedSecret, associatedData: string): string {
  requireKey(masterKey);
  if (sealed.keyVersion !== masterKeyVersion) throw new Error(`sealed under master key version ${sealed.keyVersion}`);
  const data = Buffer.from(sealed.ciphertext);
  if (data.length < tagBytes) throw new Error("sealed secret too short");
  const decipher = createDecipheriv("aes-256-gcm", masterKey, Buffer.from(sealed.nonce), { authTagLength: tagBytes });
  decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(data.subarray(data.length - tagBytes));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - tagBytes)), decipher.final()]).toString("utf8");
}

/** A short, non-reversible name for a secret (first 12 hex of its sha256), safe to show and log. */
export function fingerprint(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex").slice(0, 12);
}

/** The secret's last four characters, for operators to recognise it in a list. */
export function lastFour(secret: string): string {
  return secret.length <= 8 ? "" : secret.slice(-4);
}
