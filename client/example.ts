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

  await new Promise<void>((resolve, reject) => {
    ws.subscribe<GenerationUpdatedSubscription>(
      { query: print(GenerationUpdatedDocument), variables: { id: gen.id } },
      {
        next: ({ data }) => {
          const ev = data!.generationUpdated;
          if (ev.type === "DELTA") process.stdout.write(`  #${ev.seq} DELTA ${JSON.stringify(ev.delta)}\n`);
          else if (ev.type === "PROGRESS") console.log(`  #${ev.seq} PROGRESS ${Math.round((ev.progress ?? 0) * 100)}%`);
          else console.log(`  #${ev.seq} ${ev.type} ${ev.generation.status}${ev.message ? ` — ${ev.message}` : ""}`);
          if (ev.type === "SUCCEEDED") console.log(`\n${ev.generation.output?.text ?? ev.generation.output?.url}`);
          if (ev.type === "FAILED") console.log(`\nfailed: ${ev.generation.error?.code} ${ev.generation.error?.message}`);
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  await ws.dispose();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
