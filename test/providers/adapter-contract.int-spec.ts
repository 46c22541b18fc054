/**
 * One contract suite over every adapter, against local fake servers that speak each
 * provider's documented wire format: success, streaming, 400, 401, 429 with Retry-After,
 * 500, 503, 529, malformed JSON, a stream cut mid-answer, an answer slower than the timeout,
 * an async task that fails, and the health check. No live network.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPending, ProviderError, type GenerateOutcome, type GenerationProvider, type GenerationRequest, type ProviderCall } from "../../src/providers/contract";
import type { FakeProviderServer, Scenario } from "../fakes/fake-server";
import type { AdapterFixture } from "./fixture";

const dir = path.join(process.cwd(), "test/providers/fixtures");

async function loadFixtures(): Promise<AdapterFixture[]> {
  const out: AdapterFixture[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".fixture.ts")).sort()) {
    const m = await import(path.join(dir, f));
    if (m.fixture) out.push(m.fixture);
    if (Array.isArray(m.fixtures)) out.push(...m.fixtures);
  }
  return out;
}

function call(over: Partial<ProviderCall> = {}): ProviderCall & { deltas: string[]; progress: number[] } {
  const deltas: string[] = [];
  const progress: number[] = [];
  return {
    apiKey: "test-key-0000",
    keyLabel: "test",
    signal: AbortSignal.timeout(5_000),
    timeoutMs: 5_000,
    attempt: 1,
    onDelta: (d) => deltas.push(d),
    onProgress: (p) => progress.push(p),
    deltas,
    progress,
    ...over,
  };
}

/** generate(), then poll() pending tasks to the end (no real waiting: the fake answers at once). */
async function runToEnd(p: GenerationProvider, req: GenerationRequest, c: ProviderCall): Promise<Exclude<GenerateOutcome, { pending: true }>> {
  let out = await p.generate(req, c);
  for (let i = 0; i < 20 && isPending(out); i++) {
    if (!p.poll) throw new Error(`${p.id} returned a pending task but has no poll()`);
    out = await p.poll(out, req, c);
  }
  if (isPending(out)) throw new Error("task still pending after 20 polls");
  return out;
}

async function expectProviderError(pr: Promise<unknown>): Promise<ProviderError> {
  const e = await pr.then(() => undefined, (x: unknown) => x);
  expect(e, "expected the call to fail").toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

describe("adapter contract", async () => {
  const fixtures = await loadFixtures();
  it("has fixtures for the adapters", () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  for (const fx of fixtures) {
    describe(fx.name, () => {
      let server: FakeProviderServer;
      let provider: GenerationProvider;
      const skip = (s: Scenario) => fx.skip?.[s] !== undefined;
      beforeAll(async () => {
        server = await fx.startServer();
        provider = fx.createProvider(server.url);
      });
      afterAll(() => server?.close());
      const withScenario = (s: Scenario) => {
        server.scenario = s;
        server.requests.length = 0;
      };

      it("succeeds and reports usage", async () => {
        withScenario("ok");
        const c = call({ apiKey: fx.apiKey ?? "test-key-0000" });
        const r = await runToEnd(provider, fx.request(), c);
        fx.checkResult(r);
        expect(server.requests.length).toBeGreaterThan(0);
        if (provider.requiresKey) {
          const auth = JSON.stringify(server.requests[0].headers);
          expect(auth).toContain(fx.apiKey ?? "test-key-0000");
        }
        if (fx.streams) {
          expect(c.deltas.length).toBeGreaterThan(1);
          expect(c.deltas.join("")).toBe(r.text);
        }
      });

      const errorCases: [Scenario, string, boolean][] = [
        ["400", "invalid_request", false],
        ["401", "auth", false],
        ["429", "rate_limited", true],
        ["500", "unavailable", true],
        ["503", "unavailable", true],
        ["529", "unavailable", true],
      ];
      for (const [scenario, kind, retryable] of errorCases) {
        it.skipIf(skip(scenario))(`maps ${scenario} to ${kind} (retryable: ${retryable})`, async () => {
          withScenario(scenario);
          const e = await expectProviderError(runToEnd(provider, fx.request(), call({ apiKey: fx.apiKey })));
          expect(e.kind).toBe(kind);
          expect(e.retryable).toBe(retryable);
          expect(e.provider).toBe(provider.id);
          expect(e.message).not.toContain(fx.apiKey ?? "test-key-0000");
          if (scenario === "429") expect(e.retryAfterSeconds).toBe(server.retryAfterSeconds);
        });
      }

      it.skipIf(skip("malformed"))("a malformed body is a retryable bad_response", async () => {
        withScenario("malformed");
        const e = await expectProviderError(runToEnd(provider, fx.request(), call({ apiKey: fx.apiKey })));
        expect(e.kind).toBe("bad_response");
        expect(e.retryable).toBe(true);
      });

      it.skipIf(!fx.streams || skip("cut"))("a stream cut mid-answer fails as retryable and partial, never as success", async () => {
        withScenario("cut");
        const c = call({ apiKey: fx.apiKey });
        const e = await expectProviderError(runToEnd(provider, fx.request(), c));
        expect(e.retryable).toBe(true);
        expect(e.partial).toBe(true);
        expect(c.deltas.length).toBeGreaterThan(0);
      });

      it.skipIf(skip("slow"))("an answer slower than the timeout is aborted promptly", async () => {
        withScenario("slow");
        const t0 = Date.now();
        const e = await expectProviderError(runToEnd(provider, fx.request(), call({ apiKey: fx.apiKey, signal: AbortSignal.timeout(300), timeoutMs: 300 })));
        expect(Date.now() - t0).toBeLessThan(3_000);
        expect(["cancelled", "timeout"]).toContain(e.kind);
      });

      it.skipIf(!fx.asyncTask || skip("task_failed"))("an async task that fails upstream is a ProviderError", async () => {
        withScenario("task_failed");
        const e = await expectProviderError(runToEnd(provider, fx.request(), call({ apiKey: fx.apiKey })));
        expect(e.kind).not.toBe("cancelled");
      });

      it("health check passes when the provider answers and fails on 401", async () => {
        if (!provider.healthCheck) return expect.fail(`${provider.id} has no healthCheck()`);
        withScenario("ok");
        await provider.healthCheck({ apiKey: fx.apiKey ?? "test-key-0000", signal: AbortSignal.timeout(3_000) });
        withScenario("401");
        const e = await expectProviderError(provider.healthCheck({ apiKey: fx.apiKey ?? "test-key-0000", signal: AbortSignal.timeout(3_000) }));
        expect(e.kind).toBe("auth");
      });
    });
  }
});
