import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import type { z } from "zod";
import { agentSummary, readAgentView } from "../agentView.ts";
import { type AgentRow, AgentStateWrite, applyChange, type ControlContext, requireAgent } from "../context.ts";
import { ControlError } from "../errors.ts";
import { agentParams, enabledBody, linkAgentBody, schemaOf } from "../schemas.ts";
import { setAgentEnabled } from "../tiers.ts";
import { access, actorOf, principalOf } from "./principal.ts";

export function agentRoutes(app: FastifyInstance, ctx: ControlContext): void {
  app.get(
    "/v1/agents",
    { config: access("read"), schema: { tags: ["agents"], summary: "The operator's linked agents" } },
    async (request) => {
      const { rows } = await ctx.db.query<AgentRow & { providers: string[] | null }>(
        `SELECT a.*, (SELECT array_agg(p.name ORDER BY p.name) FROM provider_connections p WHERE p.agent_id = a.agent_id) AS providers
           FROM agents a WHERE a.operator = $1 ORDER BY a.linked_at, a.agent_id`,
        [principalOf(request).operator],
      );
      return { agents: rows.map((row) => ({ ...agentSummary(row), providers: row.providers ?? [] })) };
    },
  );

  app.post<{ Body: z.output<typeof linkAgentBody> }>(
    "/v1/agents",
    {
      config: access("write"),
      schema: {
        tags: ["agents"],
        summary: "Link an onchain agent: the operator's wallet must be its operator onchain, and the agent active",
        body: schemaOf(linkAgentBody),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const { agentId, name } = request.body;
      const onchain = await ctx.chain.readAgent(agentId as Hex);
      if (onchain === undefined) throw new ControlError("AGENT_NOT_ONCHAIN");
      if (onchain.operator.toLowerCase() !== p.operator) throw new ControlError("NOT_AGENT_OPERATOR");
      if (!onchain.active) throw new ControlError("AGENT_INACTIVE", { details: { status: onchain.status } });
      const now = ctx.now();
      const row = await applyChange(ctx, async (tx) => {
        const existing = await tx.query("SELECT 1 FROM agents WHERE agent_id = $1", [agentId]);
        if (existing.rows.length > 0) throw new ControlError("AGENT_ALREADY_LINKED");
        const { rows } = await tx.query<AgentRow>(
          `INSERT INTO agents (agent_id, operator, uid, name, enabled, linked_at, updated_at)
           VALUES ($1, $2, $3, $4, true, $5, $5) RETURNING *`,
          [agentId, p.operator, onchain.uid, name ?? null, now],
        );
        return {
          result: rows[0]!,
          state: new AgentStateWrite(agentId).agentEnabled(true),
          events: [{ type: "agent.linked", agentId, detail: { operator: p.operator, uid: onchain.uid, by: p.keyId } }],
        };
      });
      reply.code(201);
      return agentSummary(row);
    },
  );

  app.get<{ Params: z.output<typeof agentParams> }>(
    "/v1/agents/:agentId",
    {
      config: access("read"),
      schema: {
        tags: ["agents"],
        summary: "The proxy's view of one agent: durable state beside the gate's live flags, deny key and usage",
        params: schemaOf(agentParams),
      },
    },
    async (request) => {
      const agent = await requireAgent(ctx.db, principalOf(request), request.params.agentId);
      return await readAgentView(ctx.db, ctx.redis, agent, ctx.now());
    },
  );

  app.put<{ Params: z.output<typeof agentParams>; Body: z.output<typeof enabledBody> }>(
    "/v1/agents/:agentId/enabled",
    {
      config: access("write"),
      schema: {
        tags: ["tiers"],
        summary: "Tier 2: enable or disable every call of the agent",
        params: schemaOf(agentParams),
        body: schemaOf(enabledBody),
      },
    },
    async (request) => {
      const agent = await requireAgent(ctx.db, principalOf(request), request.params.agentId);
      return await setAgentEnabled(ctx, agent.agent_id, request.body.enabled, {
        source: "api",
        actor: actorOf(request),
        reason: request.body.reason,
      });
    },
  );
}
