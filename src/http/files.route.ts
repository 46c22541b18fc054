import type { Request, Response } from "express";
import type { BlobStore } from "../storage/blob-store";
import { parseFilesPath, verifyFileSignature } from "../storage/signed-url";

/** GET /files/<key>?exp=…&sig=…: generated media by signed, expiring URL (no Authorization header). */
export function filesHandler(blobs: BlobStore, secret: string) {
  return async (req: Request, res: Response) => {
    const key = parseFilesPath(req.path.startsWith("/files") ? req.path : `/files${req.path}`);
    if (!key) return void res.status(404).json({ error: "not found" });
    const q = req.query as Record<string, string | undefined>;
    const check = verifyFileSignature(key, q.exp, q.sig, secret, Math.floor(Date.now() / 1000));
    if (check !== "ok") return void res.status(403).json({ error: check === "expired" ? "this URL has expired; query the generation again for a fresh one" : "invalid signature" });
    const blob = await blobs.get(key);
    if (!blob) return void res.status(404).json({ error: "not found" });
    res.set({
      "Content-Type": blob.mimeType,
      "Content-Length": String(blob.sizeBytes),
      "Cache-Control": "private, max-age=300",
      "Content-Disposition": "inline",
    });
    res.end(blob.data);
  };
}
