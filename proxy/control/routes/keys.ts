import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { createApiKey } from "../auth/apiKeys.ts";
import { applyChange, type ControlContext } from "../context.ts";
import { ControlError } from "../errors.ts";
import { createKeyBody, keyParams, schemaOf } from "../schemas.ts";
import { access, principalOf } from "./principal.ts";

interface KeyRow {
  id: string;
  role: string;
  label: string | null;
  created_by: string | null;
  created_at: number;
  revoked_at: number | null;
}

function keyView(row: KeyRow) {
  return {
    id: row.id,
    role: row.role,
    label: row.label,
    createdBy: row.created_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** Operator API keys: owners only. */
export function keyRoutes(app: FastifyInstance, ctx: ControlContext): void {
  app.post<{ Body: z.output<typeof createKeyBody> }>(
    "/v1/keys",
    {
      config: access("keys"),
      schema: { tags: ["keys"], summary: "Create an admin or viewer API key (shown once)", body: schemaOf(createKeyBody) },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const { role, label } = request.body;
      const now = ctx.now();
      const key = await applyChange(ctx, async (tx) => {
        const issued = await createApiKey(tx, { operator: p.operator, role, label, createdBy: p.keyId, now });
        return {
          result: issued,
          events: [
            { type: "apikey.created", agentId: "", detail: { operator: p.operator, keyId: issued.id, role, by: p.keyId } },
          ],
        };
      });
      reply.code(201);
      return { id: key.id, role, label: label ?? null, createdAt: now, key: key.key };
    },
  );

  app.get(
    "/v1/keys",
    { config: access("keys"), schema: { tags: ["keys"], summary: "The operator's API keys (never the keys themselves)" } },
    async (request) => {
      const { rows } = await ctx.db.query<KeyRow>(
        "SELECT id, role, label, created_by, created_at, revoked_at FROM api_keys WHERE operator = $1 ORDER BY created_at, id",
        [principalOf(request).operator],
      );
      return { keys: rows.map(keyView) };
    },
  );

  app.delete<{ Params: z.output<typeof keyParams> }>(
    "/v1/keys/:keyId",
    { config: access("keys"), schema: { tags: ["keys"], summary: "Revoke an API key", params: schemaOf(keyParams) } },
    async (request) => {
      const p = principalOf(request);
      const now = ctx.now();
      return await applyChange(ctx, async (tx) => {
        const { rows } = await tx.query<KeyRow>(
          "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND operator = $2 RETURNING id, role, label, created_by, created_at, revoked_at",
          [request.params.keyId, p.operator, now],
        );
        const row = rows[0];
        if (row === undefined) throw new ControlError("KEY_NOT_FOUND");
        return {
          result: keyView(row),
          events: [{ type: "apikey.revoked", agentId: "", detail: { operator: p.operator, keyId: row.id, by: p.keyId } }],
        };
      });
    },
  );
}
