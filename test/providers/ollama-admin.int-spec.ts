/** OllamaAdmin (the `ollama` package) against the fake native API: list, pull, delete, health. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../src/providers/contract";
import { OllamaAdmin, type OllamaPullProgress } from "../../src/providers/ollama/ollama-admin";
import { startOllamaFake, type OllamaFake } from "../fakes/ollama.fake";

describe("OllamaAdmin", () => {
  let server: OllamaFake;
  let admin: OllamaAdmin;
  beforeAll(async () => {
    server = await startOllamaFake();
    admin = new OllamaAdmin({ baseUrl: server.url });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.scenario = "ok";
    server.requests.length = 0;
  });

  it("lists the installed models with size, date, family and parameter size", async () => {
    const models = await admin.listModels();
    expect(models.map((m) => m.name).sort()).toEqual(["llama3.2:latest", "nomic-embed-text:latest"]);
    expect(models.find((m) => m.name === "llama3.2:latest")).toEqual({
      name: "llama3.2:latest",
      sizeBytes: 2_019_393_189,
      modifiedAt: "2025-05-01T10:20:30.123456789+02:00",
      family: "llama",
      parameterSize: "3.2B",
    });
    expect(server.requests[0]).toMatchObject({ method: "GET", path: "/api/tags" });
  });

  it("pull streams increasing progress, ends on success, and the model is then listed", async () => {
    const seen: OllamaPullProgress[] = [];
    await admin.pull("qwen2.5:0.5b", (p) => seen.push(p));
    expect(server.requests[0]).toMatchObject({ method: "POST", path: "/api/pull" });
    expect(server.requests[0].body).toMatchObject({ stream: true });
    expect(seen[0].status).toBe("pulling manifest");
    expect(seen.at(-1)).toMatchObject({ status: "success", fraction: 1 });
    const fractions = seen.flatMap((p) => (p.fraction === undefined ? [] : [p.fraction]));
    expect(fractions.length).toBeGreaterThan(4);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]);
    expect(fractions[0]).toBeLessThan(0.5);
    const downloads = seen.filter((p) => p.status === "downloading");
    expect(downloads.every((p) => typeof p.total === "number" && typeof p.completed === "number")).toBe(true);
    expect((await admin.listModels()).map((m) => m.name)).toContain("qwen2.5:0.5b");
  });

  it("pulling an unknown model rejects with Ollama's message", async () => {
    const seen: OllamaPullProgress[] = [];
    const e = await admin.pull("no-such-model:13b", (p) => seen.push(p)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).message).toContain("pull model manifest: file does not exist");
    expect((e as ProviderError).message).toContain("no-such-model:13b");
    expect((e as ProviderError).kind).toBe("invalid_request");
    expect(seen.map((p) => p.status)).toEqual(["pulling manifest"]);
  });

  it("an aborted pull stops promptly as cancelled", async () => {
    const ac = new AbortController();
    const e = await admin
      .pull("tinyllama", (p) => {
        if (p.status === "downloading") ac.abort();
      }, ac.signal)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("cancelled");
  });

  it("delete removes the model from the list; deleting it again is a not-found error", async () => {
    await admin.delete("nomic-embed-text:latest");
    expect(server.requests[0]).toMatchObject({ method: "DELETE", path: "/api/delete" });
    expect((await admin.listModels()).map((m) => m.name)).not.toContain("nomic-embed-text:latest");
    const e = await admin.delete("nomic-embed-text:latest").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("invalid_request");
    expect((e as ProviderError).message).toContain("not found");
  });

  it("health check answers with the version, fails as unavailable on 503 and aborts when slow", async () => {
    expect(await admin.healthCheck()).toBe("0.12.6");
    expect(server.requests[0]).toMatchObject({ method: "GET", path: "/api/version" });
    server.scenario = "503";
    const e = await admin.healthCheck().catch((x: unknown) => x);
    expect((e as ProviderError).kind).toBe("unavailable");
    server.scenario = "slow";
    const t0 = Date.now();
    const slow = await admin.healthCheck(AbortSignal.timeout(200)).catch((x: unknown) => x);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((slow as ProviderError).kind).toBe("cancelled");
  });

  it("a base URL ending in /v1 (the openai-compatible one) still reaches the native API", async () => {
    const v1 = new OllamaAdmin({ baseUrl: `${server.url}/v1/` });
    expect(await v1.healthCheck()).toBe("0.12.6");
    expect(server.requests[0].path).toBe("/api/version");
  });
});
