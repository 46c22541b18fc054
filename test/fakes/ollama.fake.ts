/**
 * A fake Ollama native API (https://github.com/ollama/ollama/blob/main/docs/api.md):
 * GET /api/tags, POST /api/pull (NDJSON progress when streaming), DELETE /api/delete and
 * GET /api/version; POST /v1/chat/completions (Ollama's OpenAI-compatible API) for installed models. Models in {@link OLLAMA_FAKE_LIBRARY} can be pulled (two layers, each
 * announced and then downloaded in steps); any other name streams "pulling manifest" then
 * `{"error":"pull model manifest: file does not exist"}` with HTTP 200, as Ollama does.
 * Error scenarios answer `{ "error": "…" }` with the status; "slow" holds every answer.
 */
import { answerErrorScenario, sendJson, slow, startFakeServer, type FakeProviderServer } from "./fake-server";
import { chatCompletions } from "./openai.fake";

interface FakeModel {
  name: string;
  size: number;
  family: string;
  parameterSize: string;
  modifiedAt: string;
}

/** What the fake "registry" can pull: name → [family, parameter size, layer sizes]. */
export const OLLAMA_FAKE_LIBRARY: Record<string, [string, string, number[]]> = {
  "qwen2.5:0.5b": ["qwen2", "494.03M", [397_807_936, 6_880]],
  "tinyllama:latest": ["llama", "1B", [637_699_456, 98]],
};

export interface OllamaFake extends FakeProviderServer {
  /** Installed models by name. */
  models: Map<string, FakeModel>;
}

const digestOf = (name: string, i: number): string =>
  `sha256:${Buffer.from(`${name}#${i}`).toString("hex").padEnd(64, "0").slice(0, 64)}`;

/** "llama3.2" → "llama3.2:latest", as Ollama names models. */
const fullName = (n: string): string => (n.includes(":") ? n : `${n}:latest`);

export async function startOllamaFake(): Promise<OllamaFake> {
  const models = new Map<string, FakeModel>();
  const add = (name: string, size: number, family: string, parameterSize: string) =>
    models.set(name, { name, size, family, parameterSize, modifiedAt: "2025-05-01T10:20:30.123456789+02:00" });
  add("llama3.2:latest", 2_019_393_189, "llama", "3.2B");
  add("nomic-embed-text:latest", 274_302_450, "nomic-bert", "137M");

  const base = await startFakeServer(async (req, res, s) => {
    const path = new URL(req.path, "http://fake").pathname;
    if (s.scenario === "slow") return slow(res, () => sendJson(res, 200, { error: "too late" }));
    if (answerErrorScenario(s, res, (_status, message) => ({ error: message }))) return;
    const body = (req.body ?? {}) as Record<string, unknown>;

    if (req.method === "GET" && path === "/api/version") return sendJson(res, 200, { version: "0.12.6" });

    // Ollama's OpenAI-compatible /v1: installed models answer like OpenAI's fake; others are 404, as Ollama says.
    if (req.method === "POST" && path === "/v1/chat/completions") {
      const asked = String(body.model ?? "");
      if (!models.has(fullName(asked))) return sendJson(res, 404, { error: { message: `model "${asked}" not found, try pulling it first`, type: "api_error", param: null, code: null } });
      return chatCompletions(req, res, s);
    }

    if (req.method === "GET" && path === "/api/tags") {
      return sendJson(res, 200, {
        models: [...models.values()].map((m) => ({
          name: m.name,
          model: m.name,
          modified_at: m.modifiedAt,
          size: m.size,
          digest: digestOf(m.name, 0).slice(7),
          details: { parent_model: "", format: "gguf", family: m.family, families: [m.family], parameter_size: m.parameterSize, quantization_level: "Q4_K_M" },
        })),
      });
    }

    if (req.method === "DELETE" && path === "/api/delete") {
      const name = fullName(String(body.model ?? body.name ?? ""));
      if (!models.delete(name)) return sendJson(res, 404, { error: `model '${String(body.model ?? body.name)}' not found` });
      res.writeHead(200);
      res.end();
      return;
    }

    if (req.method === "POST" && path === "/api/pull") {
      const asked = String(body.model ?? body.name ?? "");
      const name = fullName(asked);
      const entry = OLLAMA_FAKE_LIBRARY[name];
      if (body.stream === false) {
        if (!entry) return sendJson(res, 500, { error: "pull model manifest: file does not exist" });
        add(name, entry[2].reduce((a, b) => a + b, 0), entry[0], entry[1]);
        return sendJson(res, 200, { status: "success" });
      }
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const line = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
      const tick = () => new Promise((r) => setTimeout(r, 2));
      line({ status: "pulling manifest" });
      await tick();
      if (!entry) {
        line({ error: "pull model manifest: file does not exist" });
        res.end();
        return;
      }
      const layers = entry[2];
      // Every layer is announced first, then each downloads in steps.
      layers.forEach((total, i) => line({ status: "downloading", digest: digestOf(name, i), total, completed: 0 }));
      for (const [i, total] of layers.entries()) {
        for (const step of [1, 2, 3, 4]) {
          if (res.destroyed) return;
          await tick();
          line({ status: "downloading", digest: digestOf(name, i), total, completed: Math.round((total * step) / 4) });
        }
      }
      line({ status: "verifying sha256 digest" });
      line({ status: "writing manifest" });
      add(name, layers.reduce((a, b) => a + b, 0), entry[0], entry[1]);
      line({ status: "success" });
      res.end();
      return;
    }

    sendJson(res, 404, { error: `404 page not found: ${req.method} ${path}` });
  });
  return Object.assign(base, { models });
}
