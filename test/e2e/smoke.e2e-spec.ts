import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

describe("smoke: create, stream, finish", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("runs a text generation end to end with wait", async () => {
    const res = await t.gql(t.adminKey, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "Hello", wait: 10}) { id status output { text } attempts { status } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data!.createGeneration.status).toBe("SUCCEEDED");
    expect(res.data!.createGeneration.output.text).toMatch(/Simulated answer/);
    expect(res.data!.createGeneration.attempts).toEqual([{ status: "SUCCEEDED" }]);
  });

  it("streams SNAPSHOT, STARTED, DELTA… SUCCEEDED with increasing seq", async () => {
    const created = await t.gql(t.adminKey, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "Stream please", params: {simulate: {latencyMs: 400}}}) { id } }`);
    const id = created.data!.createGeneration.id;
    const ws = t.wsClient(t.adminKey);
    const sub = collect(ws, `subscription($id: ID!) { generationUpdated(id: $id) { seq type delta text generation { status } } }`, { id }, (ev: any) => ev.type === "SUCCEEDED");
    const events = await sub.done;
    const types = events.map((e: any) => e.type);
    expect(types[0]).toBe("SNAPSHOT");
    expect(types.at(-1)).toBe("SUCCEEDED");
    expect(types).toContain("DELTA");
    const seqs = events.map((e: any) => e.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
  });
});
