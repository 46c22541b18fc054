import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { enqueueSpan, inSpan, jobSpan, SpanKind, startTracing, traceLogFields, tracingEnabled } from "./tracing";

describe("tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)", () => {
  it("every helper just calls its function: no carrier in the job, no span, no log fields", async () => {
    expect(tracingEnabled()).toBe(false);
    expect(await enqueueSpan("generations", "g1", async (carrier) => carrier)).toBeUndefined();
    expect(await jobSpan("generations", { generationId: "g1", attempt: 1 }, () => false, async (span) => span)).toBeUndefined();
    expect(await inSpan("x", { kind: SpanKind.INTERNAL }, async (span) => span)).toBeUndefined();
    expect(traceLogFields()).toEqual({});
  });
});

describe("tracing on", () => {
  let stops: (() => Promise<void>)[] = [];
  let exported = 0;
  const collector = http.createServer((req, res) => {
    exported++;
    req.resume().on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  beforeAll(() => new Promise<void>((r) => collector.listen(0, "127.0.0.1", () => r())));
  afterAll(async () => {
    for (const s of stops) await s();
    await new Promise((r) => collector.close(r));
  });

  it("the enqueue's context travels as a W3C carrier and the job span continues it; shared by apps until the last stops", async () => {
    const cfg = { endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`, headers: {}, serviceName: "t", sampleRatio: 1, exportDelayMs: 60_000 };
    stops = [await startTracing(cfg), await startTracing(cfg)];
    expect(tracingEnabled()).toBe(true);
    const carrier = await inSpan("api", { kind: SpanKind.SERVER }, (api) =>
      enqueueSpan("generations", "g1", async (c) => {
        expect(c?.traceparent).toMatch(new RegExp(`^00-${api!.spanContext().traceId}-[0-9a-f]{16}-01$`));
        return c!;
      }),
    );
    await jobSpan("generations", { generationId: "g1", trace: carrier, attempt: 1 }, () => false, async (span) => {
      expect(span!.spanContext().traceId).toBe(carrier.traceparent.split("-")[1]);
      expect(traceLogFields()).toEqual({ trace_id: span!.spanContext().traceId, span_id: span!.spanContext().spanId, trace_flags: "01" });
      // pino with this mixin (as createLogger sets it), at the default level: pino merges each line's fields into the mixin's object.
      const lines: Record<string, unknown>[] = [];
      const log = pino({ level: "info", mixin: traceLogFields }, { write: (l: string) => void lines.push(JSON.parse(l)) });
      log.info({ port: 4000 }, "inside");
      log.warn({ status: 403 }, "again");
      expect(lines).toMatchObject([
        { msg: "inside", port: 4000, trace_id: span!.spanContext().traceId, span_id: span!.spanContext().spanId },
        { msg: "again", status: 403, trace_id: span!.spanContext().traceId },
      ]);
      expect(traceLogFields()).toEqual({ trace_id: span!.spanContext().traceId, span_id: span!.spanContext().spanId, trace_flags: "01" }); // not mutated by a line
    });
    // Outside any span, tracing on: an empty, writable object (a frozen one crashed every process at its first log line).
    const outside: Record<string, unknown>[] = [];
    const log = pino({ level: "info", mixin: traceLogFields }, { write: (l: string) => void outside.push(JSON.parse(l)) });
    log.info({ port: 4000 }, "switchboard started");
    log.info({ workers: true }, "next");
    expect(outside).toMatchObject([{ port: 4000 }, { workers: true }]);
    expect(outside[1]).not.toHaveProperty("port");
    expect(outside[0]).not.toHaveProperty("trace_id");
    await stops[0]();
    expect(tracingEnabled()).toBe(true);
    expect(exported).toBe(0); // batched: nothing sent yet
    await stops[1]();
    expect(tracingEnabled()).toBe(false);
    expect(exported).toBe(1); // the last stop flushed the batch
    expect(await enqueueSpan("generations", "g2", async (c) => c)).toBeUndefined();
  });
});
