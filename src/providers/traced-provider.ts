/**
 * A tracing decorator for any adapter: each upstream call (generate, poll, embedBatch) is a
 * CLIENT span, child of whatever span is active (the worker's job). Applied once where the
 * registry is built, and only when tracing is on; adapters know nothing of it.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";
import { isPending, type GenerateOutcome, type GenerationProvider, type GenerationRequest, type GenerationResult, type ProviderCall } from "./contract";

const tracer = () => trace.getTracer("switchboard");

function usage(span: Span, r: GenerationResult): void {
  if (r.usage.inputTokens !== undefined) span.setAttribute("gen_ai.usage.input_tokens", r.usage.inputTokens);
  if (r.usage.outputTokens !== undefined) span.setAttribute("gen_ai.usage.output_tokens", r.usage.outputTokens);
  if (r.finishReason) span.setAttribute("gen_ai.response.finish_reasons", [r.finishReason]);
}

function call<T>(name: string, attributes: Attributes, fn: () => Promise<T>, onResult: (span: Span, r: T) => void): Promise<T> {
  return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const r = await fn();
      onResult(span, r);
      return r;
    } catch (err) {
      const e = err as { message?: string; kind?: string; status?: number; retryable?: boolean };
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message?.slice(0, 300) });
      span.setAttribute("error.type", e?.kind ?? "unknown");
      if (e?.status !== undefined) span.setAttribute("http.response.status_code", e.status);
      if (e?.retryable !== undefined) span.setAttribute("switchboard.retryable", e.retryable);
      throw err;
    } finally {
      span.end();
    }
  });
}

const attrs = (p: GenerationProvider, op: string, req: GenerationRequest, c: ProviderCall): Attributes => ({
  "gen_ai.system": p.id,
  "gen_ai.operation.name": op,
  "gen_ai.request.model": req.model,
  "switchboard.modality": req.modality,
  "switchboard.attempt": c.attempt,
  ...(c.keyLabel ? { "switchboard.key_label": c.keyLabel } : {}),
});

const outcome = (span: Span, r: GenerateOutcome) => {
  if (isPending(r)) span.setAttributes({ "switchboard.pending": true, "switchboard.task_id": r.taskId });
  else usage(span, r);
};

/**
 * The same provider, its calls traced. A Proxy: every other field and method is the adapter's
 * own, called with the adapter as `this` (so state an adapter keeps on itself stays in one place).
 */
export function tracedProvider(p: GenerationProvider): GenerationProvider {
  const own = new Map<PropertyKey, unknown>();
  own.set("generate", (req: GenerationRequest, c: ProviderCall) => call(`generate ${p.id}`, attrs(p, req.modality.toLowerCase(), req, c), () => p.generate(req, c), outcome));
  if (p.poll) {
    const poll = p.poll.bind(p);
    own.set("poll", (task: Parameters<typeof poll>[0], req: GenerationRequest, c: ProviderCall) =>
      call(`poll ${p.id}`, { ...attrs(p, "poll", req, c), "switchboard.task_id": task.taskId }, () => poll(task, req, c), outcome));
  }
  if (p.embedBatch) {
    const embed = p.embedBatch.bind(p);
    own.set("embedBatch", (reqs: GenerationRequest[], c: ProviderCall) =>
      call(`embeddings ${p.id}`, { ...attrs(p, "embeddings", reqs[0] ?? { modality: "EMBEDDING", model: "", params: {} }, c), "switchboard.batch_size": reqs.length }, () => embed(reqs, c), () => undefined));
  }
  return new Proxy(p, {
    get(target, key) {
      if (own.has(key)) return own.get(key);
      const v = Reflect.get(target, key, target);
      if (typeof v !== "function") return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(target);
      own.set(key, bound);
      return bound;
    },
  });
}
