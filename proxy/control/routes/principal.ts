import type { FastifyContextConfig, FastifyRequest } from "fastify";
import type { Access, OperatorPrincipal } from "../auth/apiKeys.ts";
import { ControlError } from "../errors.ts";

/** The authenticated operator of each request (kept off the request object so no global type changes). */
const principals = new WeakMap<FastifyRequest, OperatorPrincipal>();

export function setPrincipal(request: FastifyRequest, principal: OperatorPrincipal): void {
  principals.set(request, principal);
}

export function principalOf(request: FastifyRequest): OperatorPrincipal {
  const principal = principals.get(request);
  if (principal === undefined) throw new ControlError("UNAUTHENTICATED");
  return principal;
}

/** Route config: which role a route needs; "public" routes (sign-in) need none. */
export interface RouteAccess {
  access: Access | "public";
}

/** The `actor` recorded with changes: the operator wallet and the key that made them. */
export function actorOf(request: FastifyRequest): string {
  const p = principalOf(request);
  return `${p.operator}/${p.keyId}`;
}

/** A route's config naming the access it needs (checked by the plugin's onRequest hook). */
export function access(rule: RouteAccess["access"]): FastifyContextConfig {
  // fastify's route config type is empty (a "weak type"); the plugin reads `access` back as RouteAccess.
  return { access: rule } as FastifyContextConfig;
}
