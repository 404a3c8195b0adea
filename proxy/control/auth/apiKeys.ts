/**
 * Operator API keys: `kco_<16 hex id>_<43 base64url secret>`, shown once; only the sha256 of the whole key
 * is stored. Roles: owner (everything, including keys), admin (changes agents, not keys), viewer (reads).
 */
import { createHash, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Db } from "../../db/index.ts";
import { ControlError } from "../errors.ts";

export const roles = ["owner", "admin", "viewer"] as const;
export type Role = (typeof roles)[number];

/** What a route needs: read (any role), write (owner, admin), keys (owner). */
export type Access = "read" | "write" | "keys";

const allowed: Record<Access, readonly Role[]> = {
  read: ["owner", "admin", "viewer"],
  write: ["owner", "admin"],
  keys: ["owner"],
};

const keyPattern = /^kco_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

/** The authenticated caller of an operator API request. */
export interface OperatorPrincipal {
  /** Lowercase wallet address: the operator's identity. */
  operator: string;
  keyId: string;
  role: Role;
}

export interface IssuedKey {
  id: string;
  key: string;
  hash: string;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function generateApiKey(): IssuedKey {
  const id = randomBytes(8).toString("hex");
  const key = `kco_${id}_${randomBytes(32).toString("base64url")}`;
  return { id, key, hash: hashApiKey(key) };
}

/** Stores a new key for `operator` and returns it (the only time the key itself exists outside the caller). */
export async function createApiKey(
  db: Db,
  params: { operator: string; role: Role; label?: string | null; createdBy?: string | null; now: number },
): Promise<IssuedKey> {
  const issued = generateApiKey();
  await db.query(
    "INSERT INTO api_keys (id, operator, role, hash, label, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [issued.id, params.operator, params.role, issued.hash, params.label ?? null, params.createdBy ?? null, params.now],
  );
  return issued;
}

/** Reads `Authorization: Bearer kco_...` and finds its live key; UNAUTHENTICATED otherwise. */
export async function authenticate(db: Db, request: FastifyRequest): Promise<OperatorPrincipal> {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer (\S+)$/i.exec(header);
  const key = match?.[1];
  const parsed = key === undefined ? null : keyPattern.exec(key);
  if (key === undefined || parsed === null) throw new ControlError("UNAUTHENTICATED");
  const { rows } = await db.query<{ id: string; operator: string; role: Role; revoked_at: number | null }>(
    "SELECT id, operator, role, revoked_at FROM api_keys WHERE hash = $1",
    [hashApiKey(key)],
  );
  const row = rows[0];
  // The id inside the key must be the row's: a hash collision cannot borrow another key's identity.
  if (row === undefined || row.id !== parsed[1] || row.revoked_at !== null) throw new ControlError("UNAUTHENTICATED");
  return { operator: row.operator, keyId: row.id, role: row.role };
}

export function authorize(principal: OperatorPrincipal, access: Access): void {
  if (!allowed[access].includes(principal.role)) {
    throw new ControlError("ROLE_FORBIDDEN", {
      message: `a ${principal.role} key may not ${access === "keys" ? "manage API keys" : "change anything"}`,
      details: { role: principal.role, needs: allowed[access] },
    });
  }
}
