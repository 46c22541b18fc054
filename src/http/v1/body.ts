/**
 * The JSON body of a /v1 request: read under the server's body cap (BODY_LIMIT_BYTES; 413 past
 * it), parsed once, and required to be one JSON object. Every refusal is an HttpError that the
 * /v1 router answers in the calling API's own error shape.
 */
import type { IncomingMessage } from "node:http";
import { HttpError, readBody } from "../http-utils";

/** A parsed request body: one JSON object. */
export type JsonObject = Record<string, unknown>;

/**
 * Reads and parses the request body.
 *
 * @param limitBytes - the largest body accepted (config.http.bodyLimitBytes); larger is 413 PAYLOAD_TOO_LARGE.
 * @throws HttpError 400 BAD_REQUEST when the body is empty, not JSON, or not an object.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<JsonObject> {
  const raw = await readBody(req, limitBytes);
  if (!raw.length) throw new HttpError(400, "BAD_REQUEST", "The request body is empty; send a JSON object");
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "BAD_REQUEST", "The request body is not valid JSON");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "BAD_REQUEST", "The request body must be a JSON object");
  return body as JsonObject;
}
