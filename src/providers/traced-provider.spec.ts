import { context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderError, type ProviderCall } from "./contract";
import { SimulatedProvider } from "./simulated/simulated.provider";
import { tracedProvider } from "./traced-provider";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const call = (attempt = 1): ProviderCall => ({ signal: new AbortController().signal, timeoutMs: 5000, attempt, keyLabel: "env-1", onDelta: () => undefined, onProgress: () => undefined });

describe("tracedProvider", () => {
  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  it("is the same provider: fields, models and other methods pass through with the adapter as `this`", () => {
    const inner = new SimulatedProvider();
    const p = tracedProvider(inner);
    expect(p.id).toBe("simulated");
    expect(p.models).toBe(inner.models);
    expect(p.simulated).toBe(true);
    expect(p.cacheIgnoredParams).toEqual(["simulate"]);
    expect(p instanceof SimulatedProvider).toBe(true);
  });

  it("each call is a CLIENT span, child of the active span, with model, attempt and usage", async () => {
    const p = tracedProvider(new SimulatedProvider());
    await trace.getTracer("t").startActiveSpan("job", async (parent) => {
      const out = await p.generate({ modality: "TEXT", model: "text", prompt: "hello there", params: {} }, call(2));
      expect("text" in out && out.text).toBeTruthy();
      parent.end();
    });
    const spans = exporter.getFinishedSpans();
    const span = spans.find((s) => s.name === "generate simulated")!;
    const job = spans.find((s) => s.name === "job")!;
    expect(span.kind).toBe(2); // SpanKind.CLIENT
    expect(span.parentSpanContext?.spanId).toBe(job.spanContext().spanId);
    expect(span.attributes).toMatchObject({ "gen_ai.system": "simulated", "gen_ai.request.model": "text", "gen_ai.operation.name": "text", "switchboard.attempt": 2, "switchboard.key_label": "env-1" });
    expect(span.attributes["gen_ai.usage.output_tokens"]).toBeGreaterThan(0);
    expect(span.status.code).toBe(0);
  });

  it("a ProviderError marks the span as an error with its kind, and is rethrown as is", async () => {
    const p = tracedProvider(new SimulatedProvider());
    const err = await p.generate({ modality: "TEXT", model: "text", prompt: "x", params: { simulate: { failWith: "unavailable" } } }, call()).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    const [span] = exporter.getFinishedSpans();
    expect(span.status.code).toBe(2); // ERROR
    expect(span.attributes).toMatchObject({ "error.type": "unavailable", "switchboard.retryable": true });
    expect(span.events.some((e) => e.name === "exception")).toBe(true);
  });
});
