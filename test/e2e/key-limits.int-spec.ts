/** Per-key RPM/TPM limits on the real Redis: exact counts, TPM refunds, and a request too big for any key. */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { KeyLimits } from "../../src/domain/providers/key-limits";
import { dropRedisPrefix, uniquePrefix } from "../helpers/infra";
import { startOpenAIFake } from "../fakes/openai.fake";
import { startTestApp } from "../helpers/test-app";

describe("KeyLimits", () => {
  const redis = new Redis("redis://127.0.0.1:6379");
  const prefix = uniquePrefix();
  afterAll(async () => {
    await dropRedisPrefix(prefix);
    redis.disconnect();
  });

  it("RPM: the n+1th request in a minute is refused with the wait, per key", async () => {
    const l = new KeyLimits(redis, prefix, { keyRpm: 2, keyTpm: 0, keyLimits: {} });
    expect((await l.admit("openai", "a", 10)).ok).toBe(true);
    expect((await l.admit("openai", "a", 10)).ok).toBe(true);
    const third = await l.admit("openai", "a", 10);
    expect(third.ok).toBe(false);
    if (!third.ok && "waitMs" in third) expect(third.waitMs).toBeGreaterThan(50_000);
    expect((await l.admit("openai", "b", 10)).ok).toBe(true); // another key has its own minute
    expect(l.limited("anthropic")).toBe(true);
  });

  it("TPM reserves input + max output and refunds what was not used", async () => {
    const l = new KeyLimits(redis, prefix, { keyRpm: 0, keyTpm: 0, keyLimits: { groq: { tpm: 1000 } } });
    expect(l.limited("openai")).toBe(false);
    const first = await l.admit("groq", "k", 800);
    expect(first).toEqual({ ok: true, tokens: 800 });
    expect((await l.admit("groq", "k", 300)).ok).toBe(false); // 800 + 300 > 1000
    await l.refund("groq", "k", 800 - 120); // the call used 120 tokens
    expect((await l.admit("groq", "k", 300)).ok).toBe(true); // 120 + 300 ≤ 1000
    const huge = await l.admit("groq", "k2", 5000);
    expect(huge.ok).toBe(false);
    expect("never" in huge && huge.reason).toMatch(/more than a groq key's 1000 tokens per minute/);
  });
});

describe("a key over its RPM: the job waits instead of failing (queue instead of 429)", () => {
  it("the second request in the minute is delayed, with a RETRYING event, and never reaches the provider", async () => {
    const fake = await startOpenAIFake();
    const t = await startTestApp({ providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "env-1", key: "sk-rpm-00000001" }] } } }, resilience: { keyLimits: { openai: { rpm: 1 } } } });
    try {
      const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
      const first = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "openai/gpt-4o-mini", prompt: "one", wait: 10 } });
      expect(first.data!.createGeneration.status).toBe("SUCCEEDED");
      const second = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "openai/gpt-4o-mini", prompt: "two", wait: 0 } });
      const id = second.data!.createGeneration.id;
      // It settles as QUEUED (delayed job) with a SKIPPED attempt: no call made.
      const deadline = Date.now() + 10_000;
      let skipped: any[] = [];
      while (Date.now() < deadline && !skipped.length) {
        skipped = await t.app.ds.query(`SELECT error_message FROM generation_attempts WHERE generation_id = $1 AND status = 'SKIPPED'`, [id]);
        if (!skipped.length) await new Promise((r) => setTimeout(r, 50));
      }
      expect(skipped[0].error_message).toMatch(/used its 1 requests per minute/);
      const g = await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status attempts { status errorKind } } }`, { id });
      expect(g.data!.generation.status).toBe("QUEUED");
      expect(g.data!.generation.attempts).toMatchObject([{ status: "SKIPPED", errorKind: "rate_limited" }]);
      expect(fake.requests.filter((r) => r.path.startsWith("/v1/chat")).length).toBe(1);
      await t.gql(t.adminKey, `mutation($id: ID!) { cancelGeneration(id: $id) { status } }`, { id });
    } finally {
      await t.close();
      await fake.close();
    }
  });
});
