import type { IncomingMessage, ServerResponse } from "node:http";
import type { BlobStore } from "../storage/blob-store";
import { parseFilesPath, verifyFileSignature } from "../storage/signed-url";
import { queryParams, sendJson } from "./http-utils";

/**
 * GET /files/<key>?exp=…&sig=…: generated media by signed, expiring URL (no Authorization header).
 * A URL whose expiry lies further ahead than `maxTtlSeconds` (FILE_URL_TTL_SECONDS) is refused like a tampered one.
 */
export function filesHandler(blobs: BlobStore, secret: string, maxTtlSeconds: number) {
  return async (path: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "method not allowed" }, { allow: "GET, HEAD" });
    const key = parseFilesPath(path);
    if (!key) return sendJson(res, 404, { error: "not found" });
    const q = queryParams(req.url ?? "");
    const check = verifyFileSignature(key, q.get("exp") ?? undefined, q.get("sig") ?? undefined, secret, Math.floor(Date.now() / 1000), maxTtlSeconds);
    if (check !== "ok")
      return sendJson(res, 403, { error: check === "expired" ? "this URL has expired; query the generation again for a fresh one" : "invalid signature" });
    const blob = await blobs.get(key);
    if (!blob) return sendJson(res, 404, { error: "not found" });
    res.writeHead(200, {
      "content-type": blob.mimeType,
      "content-length": String(blob.sizeBytes),
      "cache-control": "private, max-age=300",
      "content-disposition": "inline",
    });
    res.end(req.method === "HEAD" ? undefined : blob.data);
  };
}
