import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { fingerprint, lastFour, seal } from "../../crypto/secretBox.ts";
import { type ProviderRow, providerColumns, providerView } from "../agentView.ts";
import { AgentStateWrite, applyChange, type ControlContext, requireAgent } from "../context.ts";
import { ControlError } from "../errors.ts";
import { providerKeyAad } from "../providerDirectory.ts";
import { addProviderBody, agentParams, enabledBody, providerParams, schemaOf, updateProviderBody } from "../schemas.ts";
import { setProviderEnabled } from "../tiers.ts";
import { access, actorOf, principalOf } from "./principal.ts";

function sealKey(ctx: ControlContext, agentId: string, name: string, apiKey: string) {
  const sealed = seal(ctx.config.masterKey, apiKey, providerKeyAad(agentId, name));
  return { ...sealed, last4: lastFour(apiKey), fingerprint: fingerprint(apiKey) };
}

/** Provider connections: upstream base URL and provider key (encrypted at rest, never returned) per agent. */
export function providerRoutes(app: FastifyInstance, ctx: ControlContext): void {
  app.get<{ Params: z.output<typeof agentParams> }>(
    "/v1/agents/:agentId/providers",
    {
      config: access("read"),
      schema: {
        tags: ["providers"],
        summary: "The agent's provider connections (keys shown by fingerprint only)",
        params: schemaOf(agentParams),
      },
    },
    async (request) => {
      const agent = await requireAgent(ctx.db, principalOf(request), request.params.agentId);
      const { rows } = await ctx.db.query<ProviderRow>(
        `SELECT ${providerColumns} FROM provider_connections WHERE agent_id = $1 ORDER BY name`,
        [agent.agent_id],
      );
      return { providers: rows.map(providerView) };
    },
  );

  app.post<{ Params: z.output<typeof agentParams>; Body: z.output<typeof addProviderBody> }>(
    "/v1/agents/:agentId/providers",
    {
      config: access("write"),
      schema: {
        tags: ["providers"],
        summary: "Add a provider connection: agents then call /<name>/<path> and the proxy forwards to baseUrl/<path>",
        params: schemaOf(agentParams),
        body: schemaOf(addProviderBody),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const body = request.body;
      const result = await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId, true);
        const existing = await tx.query("SELECT 1 FROM provider_connections WHERE agent_id = $1 AND name = $2", [
          agent.agent_id,
          body.name,
        ]);
        if (existing.rows.length > 0) throw new ControlError("PROVIDER_EXISTS");
        const key = sealKey(ctx, agent.agent_id, body.name, body.apiKey);
        const now = ctx.now();
        const { rows } = await tx.query<ProviderRow>(
          `INSERT INTO provider_connections (agent_id, name, base_url, style, key_ciphertext, key_nonce, key_version, key_last4,
             key_fingerprint, enabled, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ${providerColumns}`,
          [
            agent.agent_id,
            body.name,
            body.baseUrl,
            body.style,
            key.ciphertext,
            key.nonce,
            key.keyVersion,
            key.last4,
            key.fingerprint,
            body.enabled,
            now,
          ],
        );
        return {
          result: providerView(rows[0]!),
          state: new AgentStateWrite(agent.agent_id).providerEnabled(body.name, body.enabled),
          events: [
            {
              type: "provider.added",
              agentId: agent.agent_id,
              detail: {
                name: body.name,
                baseUrl: body.baseUrl,
                style: body.style,
                enabled: body.enabled,
                key: key.fingerprint,
                by: p.keyId,
              },
            },
          ],
          invalidate: [agent.agent_id],
        };
      });
      reply.code(201);
      return result;
    },
  );

  app.patch<{ Params: z.output<typeof providerParams>; Body: z.output<typeof updateProviderBody> }>(
    "/v1/agents/:agentId/providers/:name",
    {
      config: access("write"),
      schema: {
        tags: ["providers"],
        summary: "Change a connection's base URL, key or style (Tier 1 has its own route)",
        params: schemaOf(providerParams),
        body: schemaOf(updateProviderBody),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { name } = request.params;
      const body = request.body;
      return await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId);
        const sets: string[] = [];
        const params: unknown[] = [agent.agent_id, name, ctx.now()];
        const set = (column: string, value: unknown) => {
          params.push(value);
          sets.push(`${column} = $${params.length}`);
        };
        if (body.baseUrl !== undefined) set("base_url", body.baseUrl);
        if (body.style !== undefined) set("style", body.style);
        let keyFingerprint: string | undefined;
        if (body.apiKey !== undefined) {
          const key = sealKey(ctx, agent.agent_id, name, body.apiKey);
          set("key_ciphertext", key.ciphertext);
          set("key_nonce", key.nonce);
          set("key_version", key.keyVersion);
          set("key_last4", key.last4);
          set("key_fingerprint", key.fingerprint);
          keyFingerprint = key.fingerprint;
        }
        const { rows } = await tx.query<ProviderRow>(
          `UPDATE provider_connections SET ${sets.join(", ")}, updated_at = $3 WHERE agent_id = $1 AND name = $2 RETURNING ${providerColumns}`,
          params,
        );
        if (rows[0] === undefined) throw new ControlError("PROVIDER_NOT_FOUND");
        return {
          result: providerView(rows[0]),
          events: [
            {
              type: "provider.updated",
              agentId: agent.agent_id,
              detail: {
                name,
                ...(body.baseUrl === undefined ? {} : { baseUrl: body.baseUrl }),
                ...(body.style === undefined ? {} : { style: body.style }),
                ...(keyFingerprint === undefined ? {} : { key: keyFingerprint }),
                by: p.keyId,
              },
            },
          ],
          invalidate: [agent.agent_id],
        };
      });
    },
  );

  app.delete<{ Params: z.output<typeof providerParams> }>(
    "/v1/agents/:agentId/providers/:name",
    {
      config: access("write"),
      schema: { tags: ["providers"], summary: "Remove a connection (and its guardrail)", params: schemaOf(providerParams) },
    },
    async (request) => {
      const p = principalOf(request);
      const { name } = request.params;
      return await applyChange(ctx, async (tx) => {
        const agent = await requireAgent(tx, p, request.params.agentId);
        await tx.query("DELETE FROM guardrails WHERE agent_id = $1 AND scope = $2", [agent.agent_id, name]);
        const { rows } = await tx.query("DELETE FROM provider_connections WHERE agent_id = $1 AND name = $2 RETURNING name", [
          agent.agent_id,
          name,
        ]);
        if (rows.length === 0) throw new ControlError("PROVIDER_NOT_FOUND");
        return {
          result: { agentId: agent.agent_id, name, removed: true },
          // The flag goes to "off" rather than away: an instance still caching the connection is denied at once.
          state: new AgentStateWrite(agent.agent_id).providerEnabled(name, false).guardrail(name, undefined),
          events: [{ type: "provider.removed", agentId: agent.agent_id, detail: { name, by: p.keyId } }],
          invalidate: [agent.agent_id],
        };
      });
    },
  );

  app.put<{ Params: z.output<typeof providerParams>; Body: z.output<typeof enabledBody> }>(
    "/v1/agents/:agentId/providers/:name/enabled",
    {
      config: access("write"),
      schema: {
        tags: ["tiers"],
        summary: "Tier 1: enable or disable the agent's calls to one provider",
        params: schemaOf(providerParams),
        body: schemaOf(enabledBody),
      },
    },
    async (request) => {
      const agent = await requireAgent(ctx.db, principalOf(request), request.params.agentId);
      return await setProviderEnabled(ctx, agent.agent_id, request.params.name, request.body.enabled, {
        source: "api",
        actor: actorOf(request),
        reason: request.body.reason,
      });
    },
  );
}
