/**
 * Live smoke tests: one tiny real call per provider, ONLY when a real key is in the
 * environment (never in CI, which has none). Everything else runs against fake servers.
 *   OPENAI_API_KEY=… ANTHROPIC_API_KEY=… npx vitest run test/providers/live-smoke.int-spec.ts
 */
import { describe, expect, it } from "vitest";
import { AnthropicProvider } from "../../src/providers/anthropic/anthropic.provider";
import { builtInModels } from "../../src/providers/catalog";
import { isPending, type GenerationProvider } from "../../src/providers/contract";
import { OpenAICompatibleProvider } from "../../src/providers/openai-compatible/openai-compatible.provider";

const live: { name: string; key?: string; make(): GenerationProvider; model: string }[] = [
  {
    name: "openai", key: process.env.OPENAI_API_KEY, model: "gpt-4o-mini",
    make: () => new OpenAICompatibleProvider({ id: "openai", displayName: "OpenAI", baseUrl: "https://api.openai.com/v1", requiresKey: true, models: builtInModels("openai") }),
  },
  {
    name: "anthropic", key: process.env.ANTHROPIC_API_KEY, model: "claude-haiku-4-5",
    make: () => new AnthropicProvider({ id: "anthropic", displayName: "Anthropic", baseUrl: "https://api.anthropic.com", requiresKey: true, models: builtInModels("anthropic") }),
  },
];

describe("live smoke (skipped without real keys)", () => {
  for (const p of live) {
    it.skipIf(!p.key)(`${p.name}: a short streamed answer`, async () => {
      const deltas: string[] = [];
      const out = await p.make().generate(
        { modality: "TEXT", model: p.model, prompt: "Say OK.", text: { maxTokens: 10 }, params: {} },
        { apiKey: p.key, signal: AbortSignal.timeout(30_000), timeoutMs: 30_000, attempt: 1, onDelta: (d) => deltas.push(d), onProgress: () => undefined },
      );
      expect(isPending(out)).toBe(false);
      if (!isPending(out)) expect(out.text?.length).toBeGreaterThan(0);
    });
  }
});
