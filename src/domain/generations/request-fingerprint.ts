/**
 * What an idempotency key is bound to (Stripe's rule): a replay with the same key must carry
 * the same request, else it is a CONFLICT, not silently the first generation. The fingerprint
 * is a hash of the normalised request (trimmed text, image/video defaults filled in) and of
 * every command field that changes what is done: the model as asked (not the route it got,
 * which depends on provider health at the time), fallbacks, requirements, priority, cost cap,
 * cache policy, deadline, callback. `wait` and the key itself only shape the answer and are
 * left out.
 */
import { createHash } from "node:crypto";
import type { GenerationRequest } from "../../providers/contract";
import { canonical } from "../cache/cache-key";
import type { CreateGenerationCommand } from "./create-generation.command";

/** Copies `v` without null or undefined members (absent and null mean the same in our input). */
function withoutNullish(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNullish);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => [k, withoutNullish(x)]));
}

/** Hex SHA-256 of the request as the idempotency key binds it. */
export function requestFingerprint(cmd: CreateGenerationCommand, request: GenerationRequest): string {
  const { model: _routedModel, params: _params, ...normalised } = request;
  const body = {
    v: 1,
    request: normalised,
    model: cmd.model,
    fallbackModels: cmd.fallbackModels,
    requirements: cmd.requirements,
    priority: cmd.priority ?? "NORMAL",
    maxCostUsd: cmd.maxCostUsd,
    cache: cmd.cache ?? "AUTO",
    semanticCache: cmd.semanticCache,
    deadlineSeconds: cmd.deadlineSeconds,
    whenUnavailable: cmd.whenUnavailable ?? "WAIT",
    callbackUrl: cmd.callbackUrl,
  };
  // params go to the provider as given: a null there may mean something.
  const bound = { ...(withoutNullish(body) as Record<string, unknown>), params: request.params ?? {} };
  return createHash("sha256").update(canonical(bound)).digest("hex");
}
