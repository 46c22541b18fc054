/**
 * Metrics that match what happened, scraped from /metrics as Prometheus would: the circuit
 * gauge exists for every configured provider from start (also on a node that never saw the
 * transition), generations are labelled by the model that served them, operation names are
 * bounded, tokens and time to first token are counted, and durations reach the video range.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const scrape = async (t: TestApp) => (await fetch(`http://127.0.0.1:${t.port}/metrics`)).text();

/** Lines of metric `name` whose labels include every one given. */
function lines(text: string, name: string, labels: Record<string, string> = {}): string[] {
  const sel = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return text.split("\n").filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && sel.every((s) => l.includes(s)));
}
const sum = (ls: string[]) => ls.reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);

describe("metrics that match", () => {
  let a: TestApp;
  let user: { id: string; key: string };
  beforeAll(async () => {
    a = await startTestApp();
    user = await a.createUser();
  });
  afterAll(async () => a?.close());

  it("the circuit gauge exists for every configured provider from start, and a node started later reads an open circuit from Redis", async () => {
    expect(await scrape(a)).toMatch(/^switchboard_circuit_state\{provider="simulated"\} 0$/m);
    await a.app.services.breakers.forceOpen("simulated", null);
    const b = await startTestApp({}, { db: a.db, prefix: a.config.redis.prefix, workers: false });
    try {
      // b never saw the transition (it was not running): its gauge comes from the shared state.
      expect(await scrape(b)).toMatch(/^switchboard_circuit_state\{provider="simulated"\} 2$/m);
    } finally {
      await b.close();
      await a.app.services.breakers.reset("simulated", null);
    }
    expect(await scrape(a)).toMatch(/^switchboard_circuit_state\{provider="simulated"\} 0$/m);
  });

  it("generations_total labels the model that served an alias; tokens and time to first token are counted", async () => {
    const res = await a.gql(user.key, `mutation CreateGeneration { createGeneration(input: {modality: TEXT, model: "fast-text", prompt: "which model served me?", wait: 30}) { status provider { id } } }`);
    expect(res.data?.createGeneration.status).toBe("SUCCEEDED");
    const text = await scrape(a);
    expect(sum(lines(text, "switchboard_generations_total", { model: "simulated/text", status: "SUCCEEDED" }))).toBeGreaterThanOrEqual(1);
    expect(lines(text, "switchboard_generations_total", { model: "fast-text" })).toEqual([]);
    expect(sum(lines(text, "switchboard_tokens_total", { provider: "simulated", model: "simulated/text", direction: "input" }))).toBeGreaterThan(0);
    expect(sum(lines(text, "switchboard_tokens_total", { provider: "simulated", model: "simulated/text", direction: "output" }))).toBeGreaterThan(0);
    expect(sum(lines(text, "switchboard_time_to_first_token_seconds_count", { provider: "simulated", model: "simulated/text" }))).toBeGreaterThanOrEqual(1);
  });

  it("duration buckets reach the video range (15 min and beyond)", async () => {
    const text = await scrape(a);
    for (const le of ["900", "1800", "3600"]) expect(lines(text, "switchboard_generation_duration_seconds_bucket", { le }).length, le).toBeGreaterThan(0);
  });

  it("operation names are bounded: known names keep their label, any other name is other", async () => {
    const names = Array.from({ length: 5 }, (_, i) => `Random${i}${Date.now()}`);
    for (const n of names) await a.gql(user.key, `query ${n} { me { id } }`);
    await a.gql(user.key, `query Me { me { id } }`);
    const text = await scrape(a);
    for (const n of names) expect(text).not.toContain(n);
    expect(sum(lines(text, "switchboard_graphql_operations_total", { operation: "other", type: "query", outcome: "ok" }))).toBeGreaterThanOrEqual(5);
    expect(sum(lines(text, "switchboard_graphql_operations_total", { operation: "Me", type: "query", outcome: "ok" }))).toBeGreaterThanOrEqual(1);
  });
});
