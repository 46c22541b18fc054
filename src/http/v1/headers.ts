/**
 * Switchboard's own options on a /v1 request, and its response headers.
 *
 * Options come from the body's `switchboard` object (what an SDK's `extra_body` / a plain JSON
 * client sends) or, for clients that cannot add body fields, from `x-switchboard-*` request
 * headers; a field given both ways takes the body's value. Response headers name the generation
 * that served the request and how: every /v1 endpoint sets them the same way.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadUserInputError } from "../../common/errors";
import { microsToUsd } from "../../common/money";
import type { CreateGenerationCommand } from "../../domain/generations/create-generation.command";
import type { GenerationView } from "../../realtime/generation-event";

/** The command fields a /v1 request may set beyond its API's own fields. */
export type SwitchboardOptions = Pick<
  CreateGenerationCommand,
  "fallbackModels" | "priority" | "cache" | "maxCostUsd" | "deadlineSeconds" | "whenUnavailable" | "semanticCache" | "idempotencyKey"
>;

/** Request header → option (values as strings; lists comma-separated). `idempotency-key` is the common HTTP header. */
export const OPTION_HEADERS = {
  fallbackModels: "x-switchboard-fallback-models",
  priority: "x-switchboard-priority",
  cache: "x-switchboard-cache",
  maxCostUsd: "x-switchboard-max-cost-usd",
  deadlineSeconds: "x-switchboard-deadline-seconds",
  whenUnavailable: "x-switchboard-when-unavailable",
  semanticCache: "x-switchboard-semantic-cache",
  idempotencyKey: "idempotency-key",
} as const satisfies Record<keyof SwitchboardOptions, string>;

const PRIORITIES = ["HIGH", "NORMAL", "LOW"] as const;
const CACHE = ["AUTO", "USE", "BYPASS", "REFRESH"] as const;
const UNAVAILABLE = ["WAIT", "FAIL"] as const;

function oneOf<T extends string>(v: unknown, allowed: readonly T[], param: string): T {
  const s = typeof v === "string" ? v.toUpperCase() : v;
  if (!allowed.includes(s as T)) throw new BadUserInputError(`${param} must be one of ${allowed.join(", ")}`, { field: param });
  return s as T;
}

function positive(v: unknown, param: string): number {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) throw new BadUserInputError(`${param} must be a positive number`, { field: param });
  return n;
}

function parseOption<K extends keyof SwitchboardOptions>(key: K, v: unknown, param: string): SwitchboardOptions[K] {
  switch (key) {
    case "fallbackModels": {
      const list = typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v;
      if (!Array.isArray(list) || !list.every((m) => typeof m === "string" && m)) throw new BadUserInputError(`${param} must be a list of model ids`, { field: param });
      return list as SwitchboardOptions[K];
    }
    case "priority": return oneOf(v, PRIORITIES, param) as SwitchboardOptions[K];
    case "cache": return oneOf(v, CACHE, param) as SwitchboardOptions[K];
    case "whenUnavailable": return oneOf(v, UNAVAILABLE, param) as SwitchboardOptions[K];
    case "maxCostUsd": return positive(v, param) as SwitchboardOptions[K];
    case "deadlineSeconds": {
      const n = positive(v, param);
      if (!Number.isInteger(n)) throw new BadUserInputError(`${param} must be a whole number of seconds`, { field: param });
      return n as SwitchboardOptions[K];
    }
    case "semanticCache": {
      if (v === true || v === "true") return true as SwitchboardOptions[K];
      if (v === false || v === "false") return false as SwitchboardOptions[K];
      throw new BadUserInputError(`${param} must be true or false`, { field: param });
    }
    default: {
      if (typeof v !== "string" || !v || v.length > 255) throw new BadUserInputError(`${param} must be a string of 1 to 255 characters`, { field: param });
      return v as SwitchboardOptions[K];
    }
  }
}

/**
 * The request's Switchboard options: `body.switchboard` first, then the `x-switchboard-*`
 * headers for fields the body does not set.
 *
 * @throws BadUserInputError naming the offending field (`switchboard.priority`) or header.
 */
export function switchboardOptions(req: IncomingMessage, body: Record<string, unknown>): SwitchboardOptions {
  const fromBody = body.switchboard;
  if (fromBody != null && (typeof fromBody !== "object" || Array.isArray(fromBody))) throw new BadUserInputError("switchboard must be an object", { field: "switchboard" });
  const b = (fromBody ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!(k in OPTION_HEADERS)) throw new BadUserInputError(`switchboard.${k} is not an option; known: ${Object.keys(OPTION_HEADERS).join(", ")}`, { field: `switchboard.${k}` });
  const out: SwitchboardOptions = {};
  for (const [key, header] of Object.entries(OPTION_HEADERS) as [keyof SwitchboardOptions, string][]) {
    const h = req.headers[header];
    if (b[key] != null) (out as Record<string, unknown>)[key] = parseOption(key, b[key], `switchboard.${key}`);
    else if (typeof h === "string" && h !== "") (out as Record<string, unknown>)[key] = parseOption(key, h, header);
  }
  return out;
}

/** What the response headers say about the generation that served a request. */
export type ServedBy = Pick<GenerationView, "id" | "provider" | "model" | "costMicros" | "cached" | "cacheHit"> & { candidates?: GenerationView["candidates"] };

/** The served model's public id: the running candidate's, else the requested one. */
export function servedModel(g: Pick<GenerationView, "provider" | "model"> & { candidates?: GenerationView["candidates"] }): string {
  return g.candidates?.find((c) => c.model.startsWith(`${g.provider}/`))?.model ?? g.model;
}

/**
 * The response headers of a request served by generation `g`:
 * `x-switchboard-generation-id`, `-provider`, `-model` (the public id that served it), `-cost-usd`
 * (once known), `-cache` (EXACT, SEMANTIC, COALESCED or MISS) and `-attempts` (upstream calls, when counted).
 */
export function responseHeaders(g: ServedBy, attempts?: number): Record<string, string> {
  const h: Record<string, string> = { "x-switchboard-generation-id": g.id, "x-switchboard-model": servedModel(g) };
  if (g.provider) h["x-switchboard-provider"] = g.provider;
  if (g.costMicros != null) h["x-switchboard-cost-usd"] = String(microsToUsd(g.costMicros));
  h["x-switchboard-cache"] = g.cacheHit?.kind ?? (g.cached ? "EXACT" : "MISS");
  if (attempts != null) h["x-switchboard-attempts"] = String(attempts);
  return h;
}

/** Sets {@link responseHeaders} on a response whose head is not written yet. */
export function setResponseHeaders(res: ServerResponse, g: ServedBy, attempts?: number): void {
  for (const [k, v] of Object.entries(responseHeaders(g, attempts))) res.setHeader(k, v);
}
