import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }`;
const text = (extra: Record<string, unknown>) => ({ modality: "TEXT", model: "simulated/text", prompt: "hello", ...extra });
const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

/** Inputs createGeneration must refuse with BAD_USER_INPUT (MAX_PROMPT_CHARS is 100 here). */
const BAD_INPUTS: [string, Record<string, unknown>][] = [
  ["empty prompt", text({ prompt: "" })],
  ["blank prompt", text({ prompt: "   " })],
  ["over-long prompt", text({ prompt: "x".repeat(101) })],
  ["neither prompt nor messages", text({ prompt: null })],
  ["unknown model", text({ model: "nobody/nothing" })],
  ["modality/model mismatch", { modality: "IMAGE", model: "simulated/text", prompt: "a cat" }],
  ["image options on TEXT", text({ image: { width: 256 } })],
  ["params is an array", text({ params: [1, 2] })],
  ["params is a string", text({ params: "x" })],
  ["simulate.failRate out of range", text({ params: { simulate: { failRate: 7 } } })],
  ["wait above the schema bound", text({ wait: 999 })],
  ["wait above MAX_WAIT_SECONDS", text({ wait: 61 })],
  ["NUL in the prompt", text({ prompt: "a\u0000b" })],
  ["NUL in the idempotencyKey", text({ idempotencyKey: "k\u0000" })],
  ["NUL in a params key", text({ params: { "\u0000": 1 } })],
  ["unpaired surrogate in params", text({ params: { x: "a\ud800b" } })],
  ["params nested 40 levels", text({ params: nested(40) })],
  ["image width out of range", { modality: "IMAGE", model: "simulated/image", prompt: "a cat", image: { width: 99999 } }],
];

/** URLs carrying a control character: refused, never silently stripped by a URL parser. [name, input, field] */
const CONTROL_URLS: [string, Record<string, unknown>, string][] = [
  ["a newline in an image URL", text({ prompt: null, messages: [{ role: "USER", content: [{ type: "IMAGE_URL", url: "https://img.example.com/a\n.png" }] }] }), "messages[0].content[0].url"],
  ["a tab in an image URL", text({ prompt: null, messages: [{ role: "USER", content: [{ type: "IMAGE_URL", url: "https://img.example.com/\ta.png" }] }] }), "messages[0].content[0].url"],
  ["NUL in video.imageUrl", { modality: "VIDEO", model: "simulated/video", prompt: "waves", video: { imageUrl: "https://img.example.com/a\u0000.png" } }, "video.imageUrl"],
  ["a C0 control in video.imageUrl", { modality: "VIDEO", model: "simulated/video", prompt: "waves", video: { imageUrl: "https://img.example.com/\u0001a.png" } }, "video.imageUrl"],
  ["a newline in callbackUrl", text({ callbackUrl: "https://hooks.example.com/\nx" }), "callbackUrl"],
  ["trailing whitespace in callbackUrl", text({ callbackUrl: "https://hooks.example.com/x " }), "callbackUrl"],
];

describe("bad input: the right code, nothing written, the server stays up", () => {
  let t: TestApp;
  let key: string;
  const count = async () => (await t.app.ds.query(`SELECT count(*)::int AS n FROM generations`))[0].n as number;

  beforeAll(async () => {
    t = await startTestApp({ limits: { maxPromptChars: 100 } });
    key = (await t.createUser()).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("accepts the near misses of the cases below", async () => {
    const before = await count();
    const inputs = [
      text({ prompt: "x".repeat(100) }), // exactly MAX_PROMPT_CHARS
      text({ prompt: "print \\u0000 in C", params: { note: "emoji 😀 is a surrogate pair", deep: nested(20) } }),
    ];
    for (const input of inputs) expect((await t.gql(key, CREATE, { input })).errors).toBeUndefined();
    expect(await count()).toBe(before + 2);
  });

  it.each(BAD_INPUTS)("%s → BAD_USER_INPUT, no row", async (_name, input) => {
    const before = await count();
    const res = await t.gql(key, CREATE, { input });
    expect(res.data?.createGeneration ?? null).toBeNull();
    expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
    expect(await count()).toBe(before);
  });

  it.each(CONTROL_URLS)("%s → BAD_USER_INPUT naming the field, no row", async (_name, input, field) => {
    const before = await count();
    const res = await t.gql(key, CREATE, { input });
    expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
    expect(res.errors![0].extensions?.field).toBe(field);
    expect(await count()).toBe(before);
  });

  it("a webhook endpoint URL with a control character → BAD_USER_INPUT naming url, nothing registered", async () => {
    const mutation = `mutation($url: String!) { createWebhookEndpoint(url: $url, events: [GENERATION_SUCCEEDED]) { secret } }`;
    for (const url of ["https://hooks.example.com/\u0000x", "https://hooks.example.com/a\r\nb", "\thttps://hooks.example.com/"]) {
      const res = await t.gql(key, mutation, { url });
      expect(codes(res), JSON.stringify(url)).toEqual(["BAD_USER_INPUT"]);
      expect(res.errors![0].extensions?.field).toBe("url");
    }
    expect((await t.app.ds.query(`SELECT count(*)::int AS n FROM webhook_endpoints`))[0].n).toBe(0);
  });

  it("a status filter of 70,000 values is BAD_USER_INPUT naming filter.status; repeats within the cap are fine", async () => {
    const q = `query($f: GenerationFilter) { generations(filter: $f) { edges { node { id status } } } }`;
    const huge = await t.gql(key, q, { f: { status: Array(70_000).fill("QUEUED") } });
    expect(codes(huge)).toEqual(["BAD_USER_INPUT"]);
    expect(huge.errors![0].extensions?.field).toBe("filter.status");
    const repeats = await t.gql(key, q, { f: { status: ["QUEUED", "QUEUED", "SUCCEEDED", "QUEUED"] } });
    expect(repeats.errors).toBeUndefined();
    expect(repeats.data!.generations.edges.length).toBeGreaterThan(0);
    expect(repeats.data!.generations.edges.every((e: { node: { status: string } }) => ["QUEUED", "SUCCEEDED"].includes(e.node.status))).toBe(true);
  });

  it("params nested thousands of levels deep (within MAX_PARAMS_BYTES) → BAD_USER_INPUT, no row", async () => {
    const before = await count();
    const params = `{"x":${"[".repeat(4000)}${"]".repeat(4000)}}`; // a raw body: too deep for JSON.stringify here
    const body = `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"modality":"TEXT","model":"simulated/text","prompt":"hi","params":${params}}}}`;
    const res = await fetch(t.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body });
    expect(codes((await res.json()) as GqlResult)).toEqual(["BAD_USER_INPUT"]);
    expect(await count()).toBe(before);
  });

  it("an unknown enum value is a validation error, inline or as a variable", async () => {
    const before = await count();
    const inline = await t.gql(key, `mutation { createGeneration(input: {modality: SOUND, model: "simulated/text", prompt: "hi"}) { id } }`);
    const asVariable = await t.gql(key, CREATE, { input: text({ modality: "SOUND" }) });
    for (const res of [inline, asVariable]) {
      expect(res.data?.createGeneration ?? null).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(["GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"]).toContain(res.errors![0].extensions?.code);
    }
    expect(await count()).toBe(before);
  });

  it("refuses a bad cursor and out-of-range page sizes", async () => {
    const page = `query($first: Int, $after: String) { generations(first: $first, after: $after) { edges { node { id } } } }`;
    for (const vars of [{ after: "garbage" }, { after: Buffer.from('["x","y"]').toString("base64url") }, { first: -1 }, { first: 0 }, { first: 10000 }]) {
      const res = await t.gql(key, page, vars);
      expect(codes(res), JSON.stringify(vars)).toEqual(["BAD_USER_INPUT"]);
      expect(res.data?.generations ?? null).toBeNull();
    }
  });

  it("refuses a malformed userId in an admin's filter", async () => {
    const res = await t.gql(t.adminKey, `query($f: GenerationFilter) { generations(filter: $f) { edges { node { id } } } }`, { f: { userId: "garbage" } });
    expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
  });

  it("an unknown or malformed id is NOT_FOUND", async () => {
    for (const id of [randomUUID(), "garbage"]) {
      const res = await t.gql(key, `query($id: ID!) { generation(id: $id) { id } }`, { id });
      expect(codes(res), id).toEqual(["NOT_FOUND"]);
    }
    const cancel = await t.gql(key, `mutation($id: ID!) { cancelGeneration(id: $id) { id } }`, { id: randomUUID() });
    expect(codes(cancel)).toEqual(["NOT_FOUND"]);
  });

  it("still answers afterwards", async () => {
    const res = await t.gql(key, `{ me { id } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data!.me.id).toEqual(expect.any(String));
  });
});
