/**
 * OpenTelemetry across processes, as an operator turns it on: `serve --no-worker` and `worker`
 * started through the installed bin with OTEL_EXPORTER_OTLP_ENDPOINT set and the default log
 * level (JSON lines on stdout), both exporting OTLP/HTTP (JSON: what exporter-trace-otlp-http
 * sends) to a receiver in this test. One createGeneration is one trace: the GraphQL operation
 * (continuing the client's traceparent) → the enqueue → the worker's job → the provider call,
 * and the log lines written inside those spans carry the trace's `trace_id`.
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

/** A minimal OTLP/HTTP receiver on loopback: POST /v1/traces, JSON-encoded ExportTraceServiceRequest. */
async function otlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; contentTypes: Set<string>; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  const port = await freePort();
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      if (req.url === "/v1/traces") contentTypes.add(String(req.headers["content-type"]));
      if (req.method === "POST" && req.url === "/v1/traces" && req.headers["content-type"]?.includes("json")) {
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
  return { url: `http://127.0.0.1:${port}`, spans, contentTypes, close: () => new Promise((r) => server.close(() => r())) };
}

/** The JSON log lines a process wrote. */
function jsonLines(p: WorkerProcess): Record<string, unknown>[] {
  return p.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("traces: API → queue → worker → provider", { timeout: 120_000 }, () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let t: TestApp;
  let apiNode: WorkerProcess;
  let worker: WorkerProcess;
  let url: string;
  beforeAll(async () => {
    receiver = await otlpReceiver();
    // The test app only provides the database (migrated, with an admin) and the Redis prefix; nothing of it runs here.
    t = await startTestApp({}, { workers: false });
    // NODE_ENV=development and no LOG_LEVEL: the default level (info), as `docker compose --profile observability` runs it.
    const otel = (service: string) => ({ NODE_ENV: "development", LOG_LEVEL: "", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: "100" });
    [apiNode, worker] = await Promise.all([
      // A trace across the queue: the API node runs no wait in-process (the fast path's trace stays in one process).
      spawnWorker(t, { ...otel("switchboard-api"), SYNC_IN_PROCESS: "false" }, 60_000, ["serve", "--no-worker"]),
      spawnWorker(t, otel("switchboard-worker"), 60_000),
    ]);
    url = `http://127.0.0.1:${apiNode.metricsPort}/graphql`;
  }, 180_000);
  afterAll(async () => {
    await worker?.stop();
    await apiNode?.stop();
    await t?.close();
    await receiver?.close();
  });

  it("both processes start and log JSON at the default level with tracing on, and survive a 403", async () => {
    expect(jsonLines(apiNode).some((l) => l.msg === "switchboard started"), apiNode.output()).toBe(true);
    expect(jsonLines(worker).some((l) => l.msg === "switchboard started"), worker.output()).toBe(true);
    const denied = await fetch(`http://127.0.0.1:${apiNode.metricsPort}/files/nothing/1-0.png?exp=1&sig=forged`);
    expect(denied.status).toBe(403);
    const bad = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sb_nope" }, body: JSON.stringify({ query: "{ me { id } }" }) });
    expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    const ok = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${t.adminKey}` }, body: JSON.stringify({ query: "{ me { email } }" }) });
    expect(ok.status).toBe(200);
    expect(apiNode.child.exitCode, apiNode.output()).toBeNull();
    expect(apiNode.output()).not.toMatch(/TypeError|not extensible/);
  });

  it("one createGeneration is one connected trace across both processes", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const clientSpan = "00f067aa0ba902b7";
    const res = await fetch(url, {
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
    expect([...receiver.contentTypes]).toEqual(["application/json"]);

    // Logs and traces join: lines written inside the spans carry the trace id (and a span id of that trace).
    const spanIds = new Set(spans.map((s) => s.spanId));
    const traced = (p: WorkerProcess) => jsonLines(p).filter((l) => l.trace_id === traceId);
    await expect.poll(() => traced(apiNode).length, { timeout: 10_000 }).toBeGreaterThan(0);
    for (const l of traced(apiNode)) expect(spanIds.has(l.span_id as string), JSON.stringify(l)).toBe(true);
    const apiLine = traced(apiNode).find((l) => l.generationId === gen.id || l.requestId);
    expect(apiLine, apiNode.output()).toBeTruthy();
  });

  it("a failing provider call is an error span, each retry a new job span in the same trace", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
    await fetch(url, {
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
