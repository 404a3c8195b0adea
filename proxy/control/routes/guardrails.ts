import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { type GuardrailRow, guardrailView } from "../agentView.ts";
import { AgentStateWrite, applyChange, type ControlContext, requireAgent } from "../context.ts";
import { ControlError } from "../errors.ts";
import { agentParams, guardrailBody, guardrailQuery, schemaOf } from "../schemas.ts";
import { access, principalOf } from "./principal.ts";

/** Guardrails: per scope (every provider, or one), requests per minute and per day, and USD per UTC day. */
export function guardrailRoutes(app: FastifyInstance, ctx: ControlContext): void {
  app.put<{ Params: z.output<typeof agentParams>; Body: z.output<typeof guardrailBody> }>(
    "/v1/agents/:agentId/guardrails",
    {
      config: access("write"),
      schema: {
        tags: ["guardrails"],
        summary: "Set the guardrail of one scope (replaces its limits; absent limits are unlimited) and what a breach trips",
        params: schemaOf(agentParams),
        body: schemaOf(guardrailBody),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const body = request.body;
      const scope = body.provider ?? "*";
      const action = body.action ?? (body.provider === undefined ? "tier2" : "tier1");
      const limits = {
        rpm: body.rpm ?? null,
        rpd: body.rpd ?? null,
        usdMicros: body.usdPerDay === undefined ? null : Math.round(body.usdPerDay * 1e6),
        action,
      } as const;
      return await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId, true);
        if (body.provider !== undefined) {
          const found = await tx.query("SELECT 1 FROM provider_connections WHERE agent_id = $1 AND name = $2", [
            agent.agent_id,
            scope,
          ]);
          if (found.rows.length === 0) throw new ControlError("PROVIDER_NOT_FOUND");
        }
        const { rows } = await tx.query<GuardrailRow>(
          `INSERT INTO guardrails (agent_id, scope, rpm, rpd, usd_micros, action, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (agent_id, scope) DO UPDATE SET rpm = EXCLUDED.rpm, rpd = EXCLUDED.rpd, usd_micros = EXCLUDED.usd_micros,
             action = EXCLUDED.action, updated_at = EXCLUDED.updated_at
           RETURNING *`,
          [agent.agent_id, scope, limits.rpm, limits.rpd, limits.usdMicros, action, ctx.now()],
        );
        const view = guardrailView(rows[0]!);
        return {
          result: { agentId: agent.agent_id, ...view },
          state: new AgentStateWrite(agent.agent_id).guardrail(scope, limits),
          events: [{ type: "guardrail.set", agentId: agent.agent_id, detail: { ...view, by: p.keyId } }],
        };
      });
    },
  );

  app.delete<{ Params: z.output<typeof agentParams>; Querystring: z.output<typeof guardrailQuery> }>(
    "/v1/agents/:agentId/guardrails",
    {
      config: access("write"),
      schema: {
        tags: ["guardrails"],
        summary: "Remove the guardrail of one scope (?provider=P, or every-provider without it)",
        params: schemaOf(agentParams),
        querystring: schemaOf(guardrailQuery),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const scope = request.query.provider ?? "*";
      return await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId);
        const { rows } = await tx.query("DELETE FROM guardrails WHERE agent_id = $1 AND scope = $2 RETURNING scope", [
          agent.agent_id,
          scope,
        ]);
        if (rows.length === 0) throw new ControlError("GUARDRAIL_NOT_FOUND");
        const provider = scope === "*" ? null : scope;
        return {
          result: { agentId: agent.agent_id, provider, removed: true },
          state: new AgentStateWrite(agent.agent_id).guardrail(scope, undefined),
          events: [{ type: "guardrail.removed", agentId: agent.agent_id, detail: { provider, by: p.keyId } }],
        };
      });
    },
  );
}
