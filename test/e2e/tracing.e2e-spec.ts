/**
 * OpenTelemetry across processes: the API (this process) and a `worker` process both export
 * OTLP/HTTP to a local receiver; one createGeneration is one trace: the GraphQL operation
 * (continuing the client's traceparent) → the enqueue → the worker's job → the provider call.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
  service: string;
}

const KIND = { SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };
const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};

/** A minimal OTLP/HTTP JSON receiver on loopback. */
async function otlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const port = await freePort();
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      if (req.url === "/v1/traces" && req.headers["content-type"]?.includes("json")) {
        const body = JSON.parse(raw);
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a: { key: string }) => a.key === "service.name")?.value?.stringValue;
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ ...s, service });
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((r) => server.close(() => r())) };
}

describe("traces: API → queue → worker → provider", () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let t: TestApp;
  let worker: WorkerProcess;
  beforeAll(async () => {
    receiver = await otlpReceiver();
    t = await startTestApp({ tracing: { endpoint: receiver.url, serviceName: "switchboard-api", exportDelayMs: 100 } }, { workers: false });
    worker = await spawnWorker(t, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "switchboard-worker", OTEL_BSP_SCHEDULE_DELAY: "100" });
  });
  afterAll(async () => {
    await worker?.stop();
    await t?.close();
    await receiver?.close();
  });

  it("one createGeneration is one connected trace across both processes", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const clientSpan = "00f067aa0ba902b7";
    const res = await fetch(t.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.adminKey}`, traceparent: `00-${traceId}-${clientSpan}-01` },
      body: JSON.stringify({ query: `mutation TracedCreate { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "trace me", wait: 20}) { id status } }` }),
    });
    const gen = ((await res.json()) as { data: { createGeneration: { id: string; status: string } } }).data.createGeneration;
    expect(gen.status).toBe("SUCCEEDED");

    const of = () => receiver.spans.filter((s) => s.traceId === traceId);
    await expect.poll(() => of().some((s) => s.kind === KIND.CLIENT) && of().some((s) => s.kind === KIND.SERVER), { timeout: 15_000 }).toBe(true);
    const spans = of();
    const one = (kind: number) => {
      const list = spans.filter((s) => s.kind === kind);
      expect(list, `one span of kind ${kind} in ${JSON.stringify(spans.map((s) => s.name))}`).toHaveLength(1);
      return list[0];
    };
    const api = one(KIND.SERVER);
    const enqueue = one(KIND.PRODUCER);
    const job = one(KIND.CONSUMER);
    const provider = one(KIND.CLIENT);

    expect(api).toMatchObject({ name: "mutation TracedCreate", parentSpanId: clientSpan, service: "switchboard-api" });
    expect(attr(api, "graphql.operation.name")).toBe("TracedCreate");
    expect(attr(api, "switchboard.generation.id")).toBe(gen.id);
    expect(attr(api, "http.response.status_code")).toBe(200);

    expect(enqueue).toMatchObject({ name: "generations publish", parentSpanId: api.spanId, service: "switchboard-api" });
    expect(attr(enqueue, "switchboard.generation.id")).toBe(gen.id);

    expect(job).toMatchObject({ name: "generations process", parentSpanId: enqueue.spanId, service: "switchboard-worker" });
    expect(attr(job, "switchboard.generation.id")).toBe(gen.id);
    expect(attr(job, "switchboard.outcome")).toBe("finished");

    expect(provider).toMatchObject({ name: "generate simulated", parentSpanId: job.spanId, service: "switchboard-worker" });
    expect(attr(provider, "gen_ai.system")).toBe("simulated");
    expect(attr(provider, "gen_ai.request.model")).toBe("text");
    expect(Number(attr(provider, "gen_ai.usage.output_tokens"))).toBeGreaterThan(0);
    for (const s of [api, enqueue, job, provider]) expect(s.status?.code ?? 0).not.toBe(2); // not ERROR
  });

  it("a failing provider call is an error span, each retry a new job span in the same trace", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
    await fetch(t.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.adminKey}`, traceparent: `00-${traceId}-00f067aa0ba902b8-01` },
      body: JSON.stringify({ query: `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "down", params: {simulate: {failWith: "unavailable"}}, wait: 20}) { status } }` }),
    });
    const of = () => receiver.spans.filter((s) => s.traceId === traceId);
    await expect.poll(() => of().filter((s) => s.kind === KIND.CLIENT).length, { timeout: 15_000 }).toBe(3);
    await expect.poll(() => of().filter((s) => s.kind === KIND.CONSUMER).length, { timeout: 5000 }).toBe(3);
    const calls = of().filter((s) => s.kind === KIND.CLIENT);
    for (const c of calls) {
      expect(c.status?.code).toBe(2);
      expect(attr(c, "error.type")).toBe("unavailable");
    }
    const jobs = of().filter((s) => s.kind === KIND.CONSUMER);
    expect(new Set(jobs.map((j) => j.parentSpanId)).size).toBe(1); // every run continues the one enqueue
    expect(jobs.map((j) => attr(j, "switchboard.outcome")).sort()).toEqual(["finished", "retry", "retry"]);
  });
});
