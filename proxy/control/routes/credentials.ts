import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { formatCredential, hashCredential } from "../../store/agentState.ts";
import { type CredentialRow, credentialView } from "../agentView.ts";
import { AgentStateWrite, applyChange, type ControlContext, requireAgent } from "../context.ts";
import { ControlError } from "../errors.ts";
import { agentParams, credentialParams, issueCredentialBody, schemaOf } from "../schemas.ts";
import { access, principalOf } from "./principal.ts";

/** Agent credentials: shown once at issue; only their sha256 is stored (database and Redis). */
export function credentialRoutes(app: FastifyInstance, ctx: ControlContext): void {
  app.post<{ Params: z.output<typeof agentParams>; Body: z.output<typeof issueCredentialBody> }>(
    "/v1/agents/:agentId/credentials",
    {
      config: access("write"),
      schema: {
        tags: ["credentials"],
        summary: "Issue an agent credential (shown once; the agent id is readable from it)",
        params: schemaOf(agentParams),
        body: schemaOf(issueCredentialBody),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const label = request.body?.label ?? null;
      const result = await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId, true);
        // Never issue a credential that the agent's cut-off already kills.
        const issuedAt = Math.max(ctx.now(), agent.credential_cutoff ?? 0);
        const id = `cred_${randomBytes(8).toString("hex")}`;
        const credential = formatCredential(agent.agent_id, randomBytes(32));
        const hash = hashCredential(credential);
        await tx.query("INSERT INTO credentials (id, agent_id, hash, label, issued_at) VALUES ($1, $2, $3, $4, $5)", [
          id,
          agent.agent_id,
          hash,
          label,
          issuedAt,
        ]);
        return {
          result: { id, agentId: agent.agent_id, label, issuedAt, credential },
          state: new AgentStateWrite(agent.agent_id).credential(hash, { id, issuedAt }),
          events: [{ type: "credential.issued", agentId: agent.agent_id, detail: { id, label, by: p.keyId } }],
        };
      });
      reply.code(201);
      return result;
    },
  );

  app.get<{ Params: z.output<typeof agentParams> }>(
    "/v1/agents/:agentId/credentials",
    {
      config: access("read"),
      schema: {
        tags: ["credentials"],
        summary: "The agent's credentials (ids and times, never secrets)",
        params: schemaOf(agentParams),
      },
    },
    async (request) => {
      const agent = await requireAgent(ctx.db, principalOf(request), request.params.agentId);
      const { rows } = await ctx.db.query<CredentialRow>(
        "SELECT id, label, issued_at, revoked_at FROM credentials WHERE agent_id = $1 ORDER BY issued_at, id",
        [agent.agent_id],
      );
      return { credentials: rows.map(credentialView), credentialCutoff: agent.credential_cutoff };
    },
  );

  app.delete<{ Params: z.output<typeof credentialParams> }>(
    "/v1/agents/:agentId/credentials/:credentialId",
    {
      config: access("write"),
      schema: { tags: ["credentials"], summary: "Revoke one credential", params: schemaOf(credentialParams) },
    },
    async (request) => {
      const p = principalOf(request);
      return await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId);
        const { rows } = await tx.query<CredentialRow & { hash: string }>(
          `UPDATE credentials SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND agent_id = $2
           RETURNING id, label, issued_at, revoked_at, hash`,
          [request.params.credentialId, agent.agent_id, ctx.now()],
        );
        const row = rows[0];
        if (row === undefined) throw new ControlError("CREDENTIAL_NOT_FOUND");
        return {
          result: credentialView(row),
          state: new AgentStateWrite(agent.agent_id).credential(row.hash, {
            id: row.id,
            issuedAt: row.issued_at,
            revokedAt: row.revoked_at,
          }),
          events: [{ type: "credential.revoked", agentId: agent.agent_id, detail: { id: row.id, by: p.keyId } }],
        };
      });
    },
  );

  app.delete<{ Params: z.output<typeof agentParams> }>(
    "/v1/agents/:agentId/credentials",
    {
      config: access("write"),
      schema: {
        tags: ["credentials"],
        summary: "Revoke every credential issued so far (sets the agent's credential cut-off)",
        params: schemaOf(agentParams),
      },
    },
    async (request) => {
      const p = principalOf(request);
      return await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId, true);
        const now = ctx.now();
        // The gate kills credentials issued strictly before the cut-off: +1 takes this millisecond's too.
        const cutoff = Math.max(now + 1, agent.credential_cutoff ?? 0);
        await tx.query("UPDATE agents SET credential_cutoff = $2, updated_at = $3 WHERE agent_id = $1", [
          agent.agent_id,
          cutoff,
          now,
        ]);
        const { rows } = await tx.query<CredentialRow & { hash: string }>(
          `UPDATE credentials SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL
           RETURNING id, label, issued_at, revoked_at, hash`,
          [agent.agent_id, now],
        );
        const state = new AgentStateWrite(agent.agent_id).cutoff(cutoff);
        for (const row of rows) state.credential(row.hash, { id: row.id, issuedAt: row.issued_at, revokedAt: row.revoked_at });
        return {
          result: { agentId: agent.agent_id, credentialCutoff: cutoff, revoked: rows.map((r) => r.id) },
          state,
          events: [{ type: "credential.cutoff", agentId: agent.agent_id, detail: { cutoff, revoked: rows.length, by: p.keyId } }],
        };
      });
    },
  );
}
