import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signFilePath } from "../../src/storage/signed-url";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) {
  createGeneration(input: $input) { id status output { url mimeType sizeBytes embedding files { width height expiresAt } } error { code message } }
}`;

describe("generated media by signed URL", () => {
  let t: TestApp;
  let short: TestApp;
  beforeAll(async () => {
    [t, short] = await Promise.all([startTestApp(), startTestApp({ files: { urlTtlSeconds: 2 } })]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), short?.close()]);
  });

  async function generate(app: TestApp, input: Record<string, unknown>) {
    const res = await app.gql(app.adminKey, CREATE, { input: { wait: 10, ...input } });
    expect(res.errors).toBeUndefined();
    const g = res.data!.createGeneration;
    expect(g.status, JSON.stringify(g.error)).toBe("SUCCEEDED");
    return g;
  }

  /** A plain fetch, as an <img src> would do it: no Authorization header. */
  const get = (url: string) => fetch(url);

  /** Replaces one character in the middle of the signature with a different base64url one. */
  function tamperSignature(url: string): string {
    const u = new URL(url);
    const sig = u.searchParams.get("sig")!;
    const i = Math.floor(sig.length / 2);
    u.searchParams.set("sig", sig.slice(0, i) + (sig[i] === "A" ? "B" : "A") + sig.slice(i + 1));
    return u.toString();
  }

  describe("IMAGE 64×48", () => {
    let image: { id: string; output: { url: string; mimeType: string; sizeBytes: number; files: { width: number; height: number; expiresAt?: string }[] } };
    beforeAll(async () => {
      image = await generate(t, { modality: "IMAGE", model: "simulated/image", prompt: "a tiny gradient", image: { width: 64, height: 48 } });
    });

    it("serves a 64×48 PNG without an Authorization header", async () => {
      expect(image.output.mimeType).toBe("image/png");
      expect(image.output.files).toMatchObject([{ width: 64, height: 48 }]);
      const res = await get(image.output.url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/png");
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(image.output.sizeBytes);
      const png = PNG.sync.read(body);
      expect([png.width, png.height]).toEqual([64, 48]);
    });

    it("rejects a tampered signature with 403", async () => {
      const res = await get(tamperSignature(image.output.url));
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: "invalid signature" });
    });

    it("rejects a tampered key (path) with 403, even when that key exists", async () => {
      const u = new URL(image.output.url);
      const other = await generate(t, { modality: "IMAGE", model: "simulated/image", prompt: "another one", image: { width: 16, height: 16 } });
      // The other generation's path with this generation's signature: a real blob, the wrong signature.
      u.pathname = new URL(other.output.url).pathname;
      expect((await get(u.toString())).status).toBe(403);
      const renamed = new URL(image.output.url);
      renamed.pathname = renamed.pathname.replace(/\.png$/, ".gif");
      expect((await get(renamed.toString())).status).toBe(403);
      expect((await get(image.output.url)).status).toBe(200); // the untouched URL still works
    });

    it("rejects a URL signed with the right secret but already expired with 403", async () => {
      const path = new URL(image.output.url).pathname.slice("/files/".length).split("/").map(decodeURIComponent).join("/");
      const expired = signFilePath(path, t.app.services.filesSecret, Math.floor(Date.now() / 1000) - 5);
      const res = await get(`http://127.0.0.1:${t.port}${expired}`);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/expired/);
      const fresh = signFilePath(path, t.app.services.filesSecret, Math.floor(Date.now() / 1000) + 60);
      expect((await get(`http://127.0.0.1:${t.port}${fresh}`)).status).toBe(200);
    });

    it("rejects a URL signed with the right secret but expiring beyond FILE_URL_TTL_SECONDS with 403", async () => {
      const path = new URL(image.output.url).pathname.slice("/files/".length).split("/").map(decodeURIComponent).join("/");
      const now = Math.floor(Date.now() / 1000);
      for (const ahead of [t.config.files.urlTtlSeconds + 3600, 10 * 365 * 86_400]) {
        const res = await get(`http://127.0.0.1:${t.port}${signFilePath(path, t.app.services.filesSecret, now + ahead)}`);
        expect(res.status).toBe(403);
        expect(await res.json()).toEqual({ error: "invalid signature" });
      }
      const withinTtl = signFilePath(path, t.app.services.filesSecret, now + t.config.files.urlTtlSeconds);
      expect((await get(`http://127.0.0.1:${t.port}${withinTtl}`)).status).toBe(200);
    });
  });

  it("expires a URL after FILE_URL_TTL_SECONDS", async () => {
    const g = await generate(short, { modality: "IMAGE", model: "simulated/image", prompt: "short-lived", image: { width: 16, height: 16 } });
    const expiresAt = Date.parse(g.output.files[0].expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(500); // a 2 s TTL (whole seconds) leaves at least 1 s
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(2000);
    expect((await get(g.output.url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 50)); // nothing to await: time has to pass
    const res = await get(g.output.url);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/expired/);
  });

  it("serves AUDIO as a WAV (RIFF/WAVE)", async () => {
    const g = await generate(t, { modality: "AUDIO", model: "simulated/audio", prompt: "say something short" });
    expect(g.output.mimeType).toBe("audio/wav");
    const res = await get(g.output.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/wav");
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.subarray(0, 4).toString("ascii")).toBe("RIFF");
    expect(body.subarray(8, 12).toString("ascii")).toBe("WAVE");
    expect(body.readUInt32LE(4)).toBe(body.length - 8);
  });

  it("serves VIDEO as an animated GIF stand-in (GIF89a)", async () => {
    const g = await generate(t, { modality: "VIDEO", model: "simulated/video", prompt: "a short clip", video: { durationSeconds: 1 } });
    expect(g.output.mimeType).toBe("image/gif");
    const res = await get(g.output.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.subarray(0, 6).toString("ascii")).toBe("GIF89a");
  });

  it("returns a 256-dimensional EMBEDDING and no file", async () => {
    const g = await generate(t, { modality: "EMBEDDING", model: "simulated/embedding", prompt: "embed me" });
    expect(g.output.embedding).toHaveLength(256);
    expect(g.output.embedding.every((x: unknown) => typeof x === "number" && Number.isFinite(x))).toBe(true);
    expect(g.output.embedding.some((x: number) => x !== 0)).toBe(true);
    expect(g.output.url).toBeNull();
  });
});
