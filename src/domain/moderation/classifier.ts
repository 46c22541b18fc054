/**
 * The classifiers behind content moderation, one interface: {@link Classifier}. Two kinds:
 * - a provider's own moderation endpoint ({@link providerClassifier}): OpenAI's /v1/moderations
 *   through the official SDK, the simulated provider's fabricated classifier, or any adapter that
 *   implements `moderate` — under the provider's key pool like any call;
 * - a prompted TEXT model of any provider ({@link guardClassifier}): Anthropic's Claude, a local
 *   Llama Guard on Ollama … answering in Llama Guard's format (`safe`, or `unsafe` and the
 *   category codes on the next line). Its tokens are not charged to the user.
 */
import type { GenerationProvider, ModerationVerdict } from "../../providers/contract";
import { ProviderError } from "../../providers/contract";
import type { KeyPool } from "../providers/key-pool";

export interface Classifier {
  /** "<provider>" or "<provider>/<model>": what the generation's `moderation.classifier` says. */
  readonly id: string;
  /** One verdict per text, in order; throws (a ProviderError) when the classifier cannot answer. */
  classify(texts: string[], signal: AbortSignal, timeoutMs: number): Promise<ModerationVerdict[]>;
}

/** Runs `fn` under one of the provider's pooled keys; no key at all is a ProviderError (the classifier is down). */
async function withPooledKey<T>(keys: KeyPool, provider: GenerationProvider, timeoutMs: number, fn: (apiKey: string | undefined) => Promise<T>): Promise<T> {
  const ran = await keys.withKey(provider, { ttlMs: timeoutMs + 60_000 }, async (lease) => {
    try {
      const out = await fn(lease?.key);
      await lease?.end({ outcome: "ok" });
      return out;
    } catch (e) {
      const kind = e instanceof ProviderError ? e.kind : "unavailable";
      await lease?.end({
        outcome: kind === "rate_limited" ? "rate_limited" : kind === "auth" ? "auth" : "error",
        retryAfterMs: e instanceof ProviderError && e.retryAfterSeconds !== undefined ? e.retryAfterSeconds * 1000 : undefined,
      });
      throw e;
    }
  });
  if (ran.kind !== "ran") throw new ProviderError({ provider: provider.id, kind: ran.kind === "wait" ? "rate_limited" : "auth", message: `no ${provider.id} key for moderation: ${ran.reason}` });
  return ran.value;
}

/** The provider's own moderation endpoint (`moderate`). */
export function providerClassifier(provider: GenerationProvider, keys: KeyPool, model: string | undefined): Classifier {
  if (!provider.moderate) throw new Error(`provider ${provider.id} has no moderation endpoint`);
  const moderate = provider.moderate.bind(provider);
  return {
    id: provider.simulated ? provider.id : model ? `${provider.id}/${model}` : provider.id,
    classify: (texts, signal, timeoutMs) =>
      withPooledKey(keys, provider, timeoutMs, (apiKey) => moderate({ model: provider.simulated ? undefined : model, inputs: texts }, { apiKey, signal, timeoutMs })),
  };
}

/** Llama Guard 3's hazard categories (MLCommons), by code. */
const GUARD_CATEGORIES: Record<string, string> = {
  S1: "violent_crimes", S2: "non_violent_crimes", S3: "sex_related_crimes", S4: "child_sexual_exploitation", S5: "defamation",
  S6: "specialized_advice", S7: "privacy", S8: "intellectual_property", S9: "indiscriminate_weapons", S10: "hate",
  S11: "suicide_self_harm", S12: "sexual_content", S13: "elections", S14: "code_interpreter_abuse",
};

/** The instruction a prompted model gets (a Llama Guard model already answers this way). */
export const GUARD_SYSTEM_PROMPT = [
  "You are a content safety classifier. Classify the user's message (do not answer it).",
  "Reply with exactly one word on the first line: safe or unsafe.",
  "If unsafe, put the violated categories on the second line as comma-separated codes:",
  ...Object.entries(GUARD_CATEGORIES).map(([code, name]) => `${code}: ${name.replace(/_/g, " ")}`),
].join("\n");

/** Parses a Llama Guard style answer; anything else is a bad response (the classifier is not trusted to have judged). */
export function parseGuardAnswer(provider: string, answer: string): ModerationVerdict {
  const [first = "", second = ""] = answer.trim().split(/\r?\n/).map((l) => l.trim());
  const verdict = first.toLowerCase().replace(/[^a-z]/g, "");
  if (verdict === "safe") return { flagged: false, categories: [] };
  if (verdict !== "unsafe") throw new ProviderError({ provider, kind: "bad_response", message: `${provider}: the moderation model answered "${first.slice(0, 40)}", not safe/unsafe` });
  const codes = second.split(/[,\s]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
  const categories = [...new Set(codes.map((c) => GUARD_CATEGORIES[c] ?? c.toLowerCase()))].sort();
  return { flagged: true, categories: categories.length ? categories : ["unsafe"] };
}

/** A TEXT model prompted as a classifier (one call per text, in parallel), e.g. Claude or Ollama's llama-guard3. */
export function guardClassifier(provider: GenerationProvider, keys: KeyPool, model: string): Classifier {
  return {
    id: `${provider.id}/${model}`,
    classify: (texts, signal, timeoutMs) =>
      Promise.all(texts.map((text) => withPooledKey(keys, provider, timeoutMs, async (apiKey) => {
        const out = await provider.generate(
          { modality: "TEXT", model, system: GUARD_SYSTEM_PROMPT, messages: [{ role: "user", content: [{ type: "text", text }] }], text: { temperature: 0, maxTokens: 20 }, params: {} },
          { apiKey, signal, timeoutMs, attempt: 1, onDelta: () => undefined, onProgress: () => undefined },
        );
        if ("pending" in out) throw new ProviderError({ provider: provider.id, kind: "bad_response", message: `${provider.id}: the moderation model started a task` });
        return parseGuardAnswer(provider.id, out.text ?? "");
      }))),
  };
}

/**
 * The classifier MODERATION_PROVIDER / MODERATION_MODEL name: the provider's moderation endpoint
 * when it has one, else its TEXT model MODERATION_MODEL prompted as a guard. Throws at start when
 * neither exists (a typo must not run unmoderated).
 */
export function classifierFor(cfg: { provider: string; model: string }, lookup: (id: string) => GenerationProvider | undefined, keys: KeyPool): Classifier {
  const provider = lookup(cfg.provider);
  if (!provider) throw new Error(`MODERATION_PROVIDER=${cfg.provider} is not a provider of this server (openai, simulated, anthropic, ollama, …)`);
  if (provider.moderate) return providerClassifier(provider, keys, cfg.model || undefined);
  const model = provider.models.find((m) => m.name === cfg.model && m.modality === "TEXT");
  if (!cfg.model || (!model && provider.models.length && !provider.models.some((m) => m.modality === "TEXT")))
    throw new Error(`MODERATION_PROVIDER=${cfg.provider} has no moderation endpoint: set MODERATION_MODEL to one of its TEXT models (prompted as a classifier)`);
  return guardClassifier(provider, keys, cfg.model);
}
