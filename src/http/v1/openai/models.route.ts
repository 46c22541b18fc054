/**
 * GET /v1/models and GET /v1/models/{id} (OpenAI): what this key may use now, as the `models`
 * and `modelAliases` queries see it (configured providers, the key's tier and allowedModels), with `auto`.
 * An id it may not use is 404 model_not_found, as OpenAI answers for a model an account lacks.
 */
import { sendJson } from "../../http-utils";
import { sendV1Error } from "../errors";
import type { V1Request, V1Route } from "../route";
import { findModel, modelList, type ModelsView } from "./models.mapping";

/** The catalog keeps no dates: every entry's `created` is this server's start. */
const STARTED = Math.floor(Date.now() / 1000);

const viewOf = (r: V1Request): ModelsView => ({
  available: r.services.router.available(undefined, r.viewer.tier, r.viewer.keyLimits?.allowedModels), aliases: r.services.router.aliases(), created: STARTED,
});

async function list(r: V1Request): Promise<void> {
  sendJson(r.res, 200, modelList(viewOf(r)));
}

async function retrieve(r: V1Request): Promise<void> {
  let id: string;
  try {
    id = decodeURIComponent(r.params[0]); // the SDKs send "simulated%2Ftext"; a raw slash works too
  } catch {
    id = r.params[0];
  }
  const m = findModel(viewOf(r), id);
  if (m) return sendJson(r.res, 200, m);
  sendV1Error(r.res, "openai", { status: 404, code: "MODEL_NOT_FOUND", message: `The model '${id}' does not exist or you do not have access to it (GET /v1/models lists yours)`, param: "model" });
}

export const MODELS_ROUTES: V1Route[] = [
  { method: "GET", path: "/v1/models", api: "openai", handle: list },
  { method: "GET", path: /^\/v1\/models\/(.+)$/, api: "openai", handle: retrieve },
];
