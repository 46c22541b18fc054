/**
 * `npm run example`: creates a generation with the typed client and prints its events live.
 *
 *   SWITCHBOARD_API_KEY=sb_… npm run example -- [text|image] ["your prompt"]
 *
 * SWITCHBOARD_URL defaults to http://localhost:4000/graphql.
 */
import { print } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import {
  CreateGenerationDocument,
  GenerationUpdatedDocument,
  type GenerationUpdatedSubscription,
  type Modality,
} from "./generated/graphql";

const url = process.env.SWITCHBOARD_URL ?? "http://localhost:4000/graphql";
const apiKey = process.env.SWITCHBOARD_API_KEY;

async function request<R, V>(doc: TypedDocumentNode<R, V>, variables: V): Promise<R> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  const body = (await res.json()) as { data?: R; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join("; "));
  return body.data!;
}

async function main() {
  if (!apiKey) throw new Error("set SWITCHBOARD_API_KEY (npm start prints the first admin's key)");
  const kind = (process.argv[2] ?? "text").toUpperCase() as Modality;
  const prompt = process.argv[3] ?? "Write a haiku about message queues";
  const ws = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${apiKey}` } });

  const { createGeneration: gen } = await request(CreateGenerationDocument, {
    input: {
      modality: kind,
      model: `simulated/${kind.toLowerCase()}`,
      prompt,
      params: { simulate: { latencyMs: 1500 } },
      ...(kind === "IMAGE" ? { image: { width: 256, height: 256 } } : {}),
    },
  });
  console.log(`created ${gen.id} (${gen.status}, estimated $${gen.estimatedCostUsd})`);

  // The README's protocol: the SNAPSHOT carries the text streamed so far and its seq; then only
  // events with a higher seq count; RESTARTED discards the partial text (a new attempt streams afresh).
  // The generation may have started (or finished) before the subscription is live: the snapshot has it.
  let text = "";
  let lastSeq = -1;
  let final: GenerationUpdatedSubscription["generationUpdated"] | undefined;
  await new Promise<void>((resolve, reject) => {
    ws.subscribe<GenerationUpdatedSubscription>(
      { query: print(GenerationUpdatedDocument), variables: { id: gen.id } },
      {
        next: ({ data }) => {
          const ev = data!.generationUpdated;
          if (ev.type !== "SNAPSHOT" && ev.seq <= lastSeq) return; // already counted
          lastSeq = ev.seq;
          if (ev.type === "SNAPSHOT") {
            text = ev.text ?? "";
            console.log(`  #${ev.seq} SNAPSHOT ${ev.generation.status}${text ? ` text so far ${JSON.stringify(text)}` : ""}`);
          } else if (ev.type === "DELTA") {
            text += ev.delta ?? "";
            console.log(`  #${ev.seq} DELTA ${JSON.stringify(ev.delta)}`);
          } else if (ev.type === "RESTARTED") {
            text = "";
            console.log(`  #${ev.seq} RESTARTED (partial text discarded)${ev.message ? ` — ${ev.message}` : ""}`);
          } else if (ev.type === "PROGRESS") console.log(`  #${ev.seq} PROGRESS ${Math.round((ev.progress ?? 0) * 100)}%`);
          else console.log(`  #${ev.seq} ${ev.type} ${ev.generation.status}${ev.message ? ` — ${ev.message}` : ""}`);
          if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(ev.generation.status)) final = ev;
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  await ws.dispose();
  const g = final?.generation;
  if (!g) throw new Error("the subscription ended before the generation finished");
  if (g.status === "FAILED") throw new Error(`failed: ${g.error?.code} ${g.error?.message}`);
  if (g.status === "CANCELLED") throw new Error("cancelled");
  if (kind === "TEXT") {
    console.log(`\n${text}`);
    // What was streamed (snapshot + deltas) is the whole answer, from its first character.
    if (text !== g.output?.text) throw new Error(`streamed text differs from the stored output:\n  streamed: ${JSON.stringify(text)}\n  stored:   ${JSON.stringify(g.output?.text)}`);
  } else console.log(`\n${g.output?.url}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
