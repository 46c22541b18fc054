/**
 * OpenTelemetry traces across API → queue → worker → provider. Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT is set: then nothing here starts a span, looks up a context or
 * loads the SDK, and every helper is a plain call of its function.
 *
 * Spans: the GraphQL operation (SERVER, one per HTTP request on /graphql), the enqueue
 * (PRODUCER; its context travels in the BullMQ job's data as a W3C `traceparent` carrier),
 * the worker's run of the job (CONSUMER, child of the enqueue even in another process), and
 * every provider call (CLIENT, see providers/traced-provider.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { AppConfig } from "../config/config";

/** W3C trace context (`traceparent`, `tracestate`) as it travels in a job's data. */
export type TraceCarrier = Record<string, string>;

export const TRACER_NAME = "switchboard";

let stopProvider: (() => Promise<void>) | undefined;
let users = 0;

/** True while a tracer provider is registered in this process. */
export function tracingEnabled(): boolean {
  return stopProvider !== undefined;
}

/**
 * Registers a tracer provider exporting OTLP/HTTP (JSON) to `cfg.endpoint`, with the
 * AsyncLocalStorage context manager and the W3C propagator. Several apps in one process
 * (tests) share it; the returned function unregisters it when the last one stops.
 */
export async function startTracing(cfg: AppConfig["tracing"] & { endpoint: string }): Promise<() => Promise<void>> {
  if (!stopProvider) {
    // Loaded only when tracing is on: a process without it never pays for the SDK.
    const { NodeTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = require("@opentelemetry/sdk-trace-node") as typeof import("@opentelemetry/sdk-trace-node");
    const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http");
    const { resourceFromAttributes } = require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");
    const exporter = new OTLPTraceExporter({ url: `${cfg.endpoint}/v1/traces`, headers: cfg.headers, timeoutMillis: 10_000 });
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ "service.name": cfg.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: cfg.exportDelayMs })],
    });
    provider.register();
    stopProvider = async () => {
      // Flushes what is buffered; an unreachable collector does not hold the shutdown up for long.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([provider.shutdown().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 5000).unref()))]);
      clearTimeout(timer);
      trace.disable();
      context.disable();
      propagation.disable();
    };
  }
  users++;
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    if (--users > 0 || !stopProvider) return;
    const stop = stopProvider;
    stopProvider = undefined;
    await stop();
  };
}

const tracer = () => trace.getTracer(TRACER_NAME);

function fail(span: Span, err: unknown): void {
  const e = err as { message?: string; kind?: string; name?: string };
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message?.slice(0, 300) });
  if (e?.kind) span.setAttribute("error.type", e.kind);
  else if (e?.name) span.setAttribute("error.type", e.name);
}

/**
 * Runs `fn` in a new span, child of the active context (or of `parent`); records a thrown
 * error unless `notAnError` says it is control flow. Without tracing: just `fn()`.
 */
export function inSpan<T>(
  name: string,
  opts: { kind: SpanKind; attributes?: Attributes; parent?: TraceCarrier; notAnError?: (err: unknown) => boolean },
  fn: (span?: Span) => Promise<T>,
): Promise<T> {
  if (!stopProvider) return fn();
  const parent = opts.parent ? propagation.extract(ROOT_CONTEXT, opts.parent) : context.active();
  return tracer().startActiveSpan(name, { kind: opts.kind, attributes: opts.attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      if (!opts.notAnError?.(err)) fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * The enqueue of a generation's job: a PRODUCER span whose context `fn` stores in the job's
 * data. Without tracing `fn` gets no carrier (the job data stays as it was).
 */
export function enqueueSpan<T>(queue: string, generationId: string, fn: (carrier?: TraceCarrier) => Promise<T>): Promise<T> {
  if (!stopProvider) return fn();
  return inSpan(`${queue} publish`, {
    kind: SpanKind.PRODUCER,
    attributes: { "messaging.system": "bullmq", "messaging.destination.name": queue, "messaging.operation.type": "publish", "switchboard.generation.id": generationId },
  }, () => {
    const carrier: TraceCarrier = {};
    propagation.inject(context.active(), carrier);
    return fn(carrier);
  });
}

/** A worker's run of a job: a CONSUMER span, child of the enqueue span carried in the job's data. */
export function jobSpan<T>(
  queue: string, job: { generationId: string; trace?: TraceCarrier; attempt: number }, notAnError: (err: unknown) => boolean, fn: (span?: Span) => Promise<T>,
): Promise<T> {
  if (!stopProvider) return fn();
  return inSpan(`${queue} process`, {
    kind: SpanKind.CONSUMER,
    parent: job.trace ?? {},
    notAnError,
    attributes: { "messaging.system": "bullmq", "messaging.destination.name": queue, "messaging.operation.type": "process", "switchboard.generation.id": job.generationId, "switchboard.job.attempt": job.attempt },
  }, fn);
}

/**
 * The SERVER span of one HTTP request (the GraphQL operation), continuing an incoming
 * `traceparent`; its name becomes `<type> <operation>` once Apollo has parsed the request.
 */
export function httpServerSpan(req: IncomingMessage, res: ServerResponse, path: string, fn: () => Promise<void>): Promise<void> {
  if (!stopProvider) return fn();
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  return tracer().startActiveSpan(`${req.method ?? "GET"} ${path}`, {
    kind: SpanKind.SERVER,
    attributes: { "http.request.method": req.method ?? "GET", "url.path": path, "http.route": path },
  }, parent, async (span) => {
    res.once("close", () => {
      span.setAttribute("http.response.status_code", res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    try {
      await fn();
    } catch (err) {
      fail(span, err);
      throw err;
    }
  });
}

/** Names the active SERVER span after the GraphQL operation and tags what it touched. */
export function annotateOperation(type: string | undefined, name: string | undefined, generationId?: string): void {
  if (!stopProvider) return;
  const span = trace.getActiveSpan();
  if (!span) return;
  if (type) {
    span.updateName(`${type} ${name ?? "anonymous"}`);
    span.setAttributes({ "graphql.operation.type": type, "graphql.operation.name": name ?? "anonymous" });
  }
  if (generationId) span.setAttribute("switchboard.generation.id", generationId);
}

/**
 * Trace and span ids of the active span for a log line (`trace_id`, `span_id`, `trace_flags`, as
 * OpenTelemetry's log data model and its pino instrumentation name them); empty without tracing or
 * outside a span. A fresh object every call: pino's mixin merges the line's fields INTO the object
 * it returns, so a shared (let alone frozen) one is mutated or throws "object is not extensible".
 */
export function traceLogFields(): Record<string, string> {
  if (!stopProvider) return {};
  const sc = trace.getActiveSpan()?.spanContext();
  return sc ? { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: `0${sc.traceFlags.toString(16)}` } : {};
}

export { SpanKind };
