import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { appendEvent } from "../../store/eventStream.ts";
import { createApiKey } from "../auth/apiKeys.ts";
import { consumeNonce, issueNonce, verifyLogin } from "../auth/siwe.ts";
import type { ControlContext } from "../context.ts";
import { loginBody, schemaOf } from "../schemas.ts";
import { access, principalOf } from "./principal.ts";

const statement = "Sign in to the Killcord proxy as the operator of your agents.";

export function authRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const settings = { publicUrl: ctx.config.publicUrl, ttlSeconds: ctx.config.siweTtlSeconds };

  app.get(
    "/v1/auth/nonce",
    {
      config: access("public"),
      schema: {
        tags: ["auth"],
        summary: "A single-use Sign-In with Ethereum nonce, with the domain, URI and chain id the message must name",
      },
    },
    async () => {
      const chainId = await ctx.chain.chainId();
      const issued = await issueNonce(ctx.db, settings, ctx.now());
      return {
        nonce: issued.nonce,
        domain: new URL(ctx.config.publicUrl).host,
        uri: ctx.config.publicUrl,
        chainId,
        version: "1",
        statement,
        issuedAt: new Date(issued.issuedAt).toISOString(),
        expiresAt: new Date(issued.expiresAt).toISOString(),
      };
    },
  );

  app.post<{ Body: z.output<typeof loginBody> }>(
    "/v1/auth/login",
    {
      config: access("public"),
      schema: {
        tags: ["auth"],
        summary: "Exchange a signed EIP-4361 message for an owner API key (shown once)",
        body: schemaOf(loginBody),
      },
    },
    async (request, reply) => {
      const now = ctx.now();
      const login = await verifyLogin(ctx.db, ctx.chain, settings, request.body as never, now);
      const operator = login.address.toLowerCase();
      const key = await ctx.db.transaction(async (tx) => {
        await consumeNonce(tx, login.nonce, now);
        await tx.query("INSERT INTO operators (wallet, created_at) VALUES ($1, $2) ON CONFLICT (wallet) DO NOTHING", [
          operator,
          now,
        ]);
        return await createApiKey(tx, { operator, role: "owner", label: "login", now });
      });
      try {
        await appendEvent(ctx.redis, { type: "operator.login", agentId: "", detail: { operator, keyId: key.id }, at: now });
      } catch (error) {
        request.log.warn({ err: error }, "could not append the login event");
      }
      reply.code(201);
      return { operator: login.address, keyId: key.id, role: "owner", operatorKey: key.key };
    },
  );

  app.get(
    "/v1/me",
    { config: access("read"), schema: { tags: ["auth"], summary: "The operator and role of the calling API key" } },
    async (request) => {
      const p = principalOf(request);
      return { operator: p.operator, keyId: p.keyId, role: p.role };
    },
  );
}
