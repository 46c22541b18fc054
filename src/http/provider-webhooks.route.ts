/**
 * Completion webhooks from async providers: POST /webhooks/providers/replicate. The signature
 * is verified (standard-webhooks scheme, REPLICATE_WEBHOOK_SECRET, stale timestamps refused);
 * a valid call only wakes the generation's delayed re-check job, so the worker finishes it
 * through the same path as polling (one code path, exactly-once transitions).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { GenerationService } from "../domain/generations/generation.service";
import type { Logger } from "../observability/logger";
import { verifyReplicateWebhook } from "../providers/replicate/webhook";
import { HttpError, readBody, sendJson } from "./http-utils";

export interface ProviderWebhookDeps {
  /** Finds the generations waiting on a prediction. */
  generations: Pick<GenerationService, "jobsAwaitingUpstreamTask">;
  secret?: string;
  /** Runs the generation's delayed job now. */
  promote(generationId: string): Promise<boolean>;
  log: Logger;
}

export function providerWebhooksHandler(d: ProviderWebhookDeps) {
  return async (path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (path !== "/webhooks/providers/replicate") return false;
    if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "POST only");
    if (!d.secret) throw new HttpError(404, "NOT_FOUND", "Replicate webhooks are off: set REPLICATE_WEBHOOK_SECRET");
    const raw = await readBody(req, 1024 * 1024);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    if (!(await verifyReplicateWebhook(headers, raw.toString("utf8"), d.secret))) throw new HttpError(401, "UNAUTHENTICATED", "invalid webhook signature");
    let body: { id?: string; status?: string };
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new HttpError(400, "BAD_REQUEST", "The body is not JSON");
    }
    if (!body.id) throw new HttpError(400, "BAD_REQUEST", "The body has no prediction id");
    let woken = 0;
    for (const jobId of await d.generations.jobsAwaitingUpstreamTask("replicate", body.id)) if (await d.promote(jobId)) woken++;
    d.log.info({ predictionId: body.id, status: body.status, woken }, "replicate webhook");
    sendJson(res, 200, { ok: true, woken });
    return true;
  };
}
