import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../client";
import { estimate, setQuota, text, until } from "../helpers/quota";
import { startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const CANCEL = `mutation($id: ID!) { cancelGeneration(id: $id) { id status } }`;
const CREATE_EP = `mutation($url: String!, $events: [WebhookEventType!]!) {
  createWebhookEndpoint(url: $url, events: $events) { secret endpoint { id url events secretLast4 createdAt } }
}`;
const ENDPOINTS = `{ webhookEndpoints { id url events secretLast4 } }`;
const DELETE_EP = `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`;
const ROTATE = `mutation { rotateCallbackSecret { secret createdAt } }`;
const DELIVERY_FIELDS = `id eventId userId event target endpointId generationId url body status attemptCount lastStatusCode lastError nextAttemptAt deliveredAt
  attempts { attemptNo status statusCode latencyMs responseExcerpt error createdAt }`;
const DELIVERIES = `query($first: Int, $generationId: ID, $endpointId: ID, $status: WebhookDeliveryStatus) {
  webhookDeliveries(first: $first, generationId: $generationId, endpointId: $endpointId, status: $status) { ${DELIVERY_FIELDS} }
}`;
const REDELIVER = `mutation($id: ID!) { redeliverWebhook(id: $id) { ${DELIVERY_FIELDS} } }`;

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Delivery {
  id: string;
  eventId: string;
  userId: string;
  event: string;
  target: string;
  endpointId: string | null;
  generationId: string | null;
  url: string;
  body: string;
  status: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  attempts: { attemptNo: number; status: string; statusCode: number | null; latencyMs: number; responseExcerpt: string | null; error: string | null; createdAt: string }[];
}

const codeAndField = (r: GqlResult) => r.errors?.map((e) => `${e.extensions?.code}:${e.extensions?.field ?? ""}`);

/**
 * Webhooks end to end: a local receiver (allow-listed as 127.0.0.1 — "localhost" is NOT, so
 * it stands for a name that resolves to a private address), the real app with workers, tiny
 * backoff (base 20 ms, 4 attempts).
 */
describe("webhooks: signed deliveries, retries, the address guard", () => {
  let t: TestApp;
  let server: http.Server;
  let base: string;
  let port: number;
  const received: Received[] = [];
  /** Every SQL statement the app ran (its TypeORM logger, prepared statements included). */
  const statements: string[] = [];
  /** Status codes a path answers, in order (the last one repeats). */
  const plans = new Map<string, number[]>();
  const hits = (path: string) => received.filter((r) => r.path === path);

  async function gen(key: string, input: Record<string, unknown>): Promise<{ id: string; status: string }> {
    const res = await t.gql(key, CREATE, { input });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration;
  }
  async function endpoint(key: string, path: string, events: string[], url = `${base}${path}`) {
    const res = await t.gql(key, CREATE_EP, { url, events });
    expect(res.errors).toBeUndefined();
    return res.data!.createWebhookEndpoint as { secret: string; endpoint: { id: string; url: string; events: string[]; secretLast4: string } };
  }
  async function deliveries(key: string, vars: Record<string, unknown> = {}): Promise<Delivery[]> {
    const res = await t.gql(key, DELIVERIES, vars);
    expect(res.errors).toBeUndefined();
    return res.data!.webhookDeliveries;
  }
  /** Waits until the deliveries matching `vars` are all out of PENDING. */
  const settledDeliveries = (key: string, vars: Record<string, unknown>, n = 1) =>
    until(() => deliveries(key, vars), (ds) => ds.length >= n && ds.every((d) => d.status !== "PENDING"), 15_000);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const path = (req.url ?? "/").split("?")[0];
        received.push({ path, headers: req.headers, body, at: Date.now() });
        const plan = plans.get(path) ?? [200];
        const status = plan[Math.min(hits(path).length - 1, plan.length - 1)];
        res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "boom");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    t = await startTestApp({
      webhooks: { allowedHosts: ["127.0.0.1"], maxAttempts: 4, backoffBaseMs: 20, timeoutMs: 2000 },
      providers: { masterKey: "m".repeat(40) },
      worker: { attempts: 1 }, // a failing generation makes one upstream call
    }, { onQuery: (sql) => statements.push(sql) });
  });
  afterAll(async () => {
    await t?.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("an endpoint subscribed to generation.succeeded receives it, signed; the signature verifies, a tampered body or a stale timestamp does not", async () => {
    const u = await t.createUser();
    const ep = await endpoint(u.key, "/ok", ["GENERATION_SUCCEEDED"]);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(ep.endpoint).toMatchObject({ url: `${base}/ok`, events: ["GENERATION_SUCCEEDED"], secretLast4: ep.secret.slice(-4) });
    // Stored encrypted (SWITCHBOARD_MASTER_KEY is set), never as shown; listed without it.
    const [row] = await t.app.ds.query(`SELECT secret FROM webhook_endpoints WHERE id = $1`, [ep.endpoint.id]);
    expect(row.secret).toMatch(/^v1\./);
    expect(row.secret).not.toContain(ep.secret.slice(6));
    expect((await t.gql(u.key, ENDPOINTS)).data!.webhookEndpoints).toEqual([{ id: ep.endpoint.id, url: `${base}/ok`, events: ["GENERATION_SUCCEEDED"], secretLast4: ep.secret.slice(-4) }]);

    const g = await gen(u.key, text("webhook please", { wait: 10 }));
    expect(g.status).toBe("SUCCEEDED");
    const [hit] = await until(async () => hits("/ok"), (h) => h.length === 1);
    expect(hit.headers["content-type"]).toBe("application/json");
    expect(hit.headers["switchboard-event"]).toBe("generation.succeeded");
    expect(hit.headers["switchboard-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const body = JSON.parse(hit.body);
    expect(body).toMatchObject({ type: "generation.succeeded", data: { generation: { id: g.id, status: "SUCCEEDED", model: "simulated/text", error: null } } });
    expect(body.data.generation.output.text).toMatch(/^Simulated answer to: webhook please/);

    expect(verifyWebhook({ body: hit.body, headers: hit.headers as Record<string, string>, secret: ep.secret })).toMatchObject({ ok: true });
    expect(verifyWebhook({ body: hit.body.replace("SUCCEEDED", "FAILED"), headers: hit.headers as Record<string, string>, secret: ep.secret })).toEqual({ ok: false, reason: "signature_mismatch" });
    const signedAt = Number(/t=(\d+)/.exec(hit.headers["switchboard-signature"] as string)![1]);
    expect(verifyWebhook({ body: hit.body, signature: hit.headers["switchboard-signature"], secret: ep.secret, now: (signedAt + 301) * 1000 })).toEqual({ ok: false, reason: "stale_timestamp" });
    expect(verifyWebhook({ body: hit.body, signature: hit.headers["switchboard-signature"], secret: "whsec_other" }).ok).toBe(false);

    const [d] = await settledDeliveries(u.key, { generationId: g.id });
    expect(d).toMatchObject({
      id: hit.headers["switchboard-delivery"], eventId: body.id, userId: u.id, event: "GENERATION_SUCCEEDED", target: "ENDPOINT",
      endpointId: ep.endpoint.id, generationId: g.id, status: "SUCCEEDED", attemptCount: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null, body: hit.body,
    });
    expect(d.deliveredAt).toBeTruthy();
    expect(d.attempts).toEqual([expect.objectContaining({ attemptNo: 1, status: "SUCCEEDED", statusCode: 200, responseExcerpt: "ok", error: null })]);
  });

  it("a callbackUrl receives the generation's terminal event, signed with the user's callback secret", async () => {
    const u = await t.createUser();
    // No callback secret yet: refused, naming the field, nothing written.
    const refused = await t.gql(u.key, CREATE, { input: text("cb", { callbackUrl: `${base}/cb` }) });
    expect(codeAndField(refused)).toEqual(["BAD_USER_INPUT:callbackUrl"]);
    expect(refused.errors![0].message).toMatch(/rotateCallbackSecret/);
    const rotated = await t.gql(u.key, ROTATE);
    expect(rotated.errors).toBeUndefined();
    const secret = rotated.data!.rotateCallbackSecret.secret as string;
    expect(secret).toMatch(/^whsec_/);

    const g = await gen(u.key, text("call me back", { wait: 10, callbackUrl: `${base}/cb?order=42` }));
    expect(g.status).toBe("SUCCEEDED");
    const [hit] = await until(async () => hits("/cb"), (h) => h.length === 1);
    expect(JSON.parse(hit.body)).toMatchObject({ type: "generation.succeeded", data: { generation: { id: g.id } } });
    expect(verifyWebhook({ body: hit.body, headers: hit.headers as Record<string, string>, secret }).ok).toBe(true);
    const [d] = await settledDeliveries(u.key, { generationId: g.id });
    expect(d).toMatchObject({ target: "CALLBACK", endpointId: null, url: `${base}/cb?order=42`, status: "SUCCEEDED" });
    const [stored] = await t.app.ds.query(`SELECT callback_url FROM generations WHERE id = $1`, [g.id]);
    expect(stored.callback_url).toBe(`${base}/cb?order=42`);

    // After a rotation the old secret no longer verifies new deliveries.
    const newSecret = (await t.gql(u.key, ROTATE)).data!.rotateCallbackSecret.secret as string;
    const g2 = await gen(u.key, text("call me back again", { wait: 10, callbackUrl: `${base}/cb` }));
    const second = (await until(async () => hits("/cb"), (h) => h.length === 2))[1];
    expect(JSON.parse(second.body).data.generation.id).toBe(g2.id);
    expect(verifyWebhook({ body: second.body, headers: second.headers as Record<string, string>, secret }).ok).toBe(false);
    expect(verifyWebhook({ body: second.body, headers: second.headers as Record<string, string>, secret: newSecret }).ok).toBe(true);
  });

  it("nothing is lost: deliveries never written (a crash after the transition) and delivery jobs lost from Redis are recovered by the sweep, exactly once", async () => {
    const u = await t.createUser();
    await t.gql(u.key, ROTATE);
    const g = await gen(u.key, text("lost callback", { wait: 10, callbackUrl: `${base}/lost` }));
    await until(async () => hits("/lost"), (h) => h.length === 1);
    // As if the process died before writing the delivery: no row, and the generation finished a while ago.
    await t.app.ds.query(`DELETE FROM webhook_deliveries WHERE generation_id = $1`, [g.id]);
    expect(await t.app.reconcileWebhooks(0)).toMatchObject({ written: 1 });
    await until(async () => hits("/lost"), (h) => h.length === 2);
    expect(await t.app.reconcileWebhooks(0)).toMatchObject({ written: 0 }); // once
    // A PENDING delivery whose job vanished (enqueue failed / Redis flushed) is enqueued again.
    const [d] = await t.app.ds.query(`SELECT id, runs FROM webhook_deliveries WHERE generation_id = $1`, [g.id]);
    await t.app.ds.query(`UPDATE webhook_deliveries SET status = 'PENDING', updated_at = now() - interval '1 minute' WHERE id = $1`, [d.id]);
    expect((await t.app.reconcileWebhooks(0)).requeued).toBe(1);
    await until(async () => hits("/lost"), (h) => h.length === 3);
  });

  it("the sweep writes a missing endpoint delivery beside a callback delivery that exists (target by target), once, and duplicates neither", async () => {
    const u = await t.createUser();
    await t.gql(u.key, ROTATE);
    const ep = await endpoint(u.key, "/partly-lost-endpoint", ["GENERATION_SUCCEEDED"]);
    const g = await gen(u.key, text("partly lost", { wait: 10, callbackUrl: `${base}/partly-lost-callback` }));
    await settledDeliveries(u.key, { generationId: g.id }, 2);
    // As if the endpoint's row had committed just after the success read the user's endpoints: only its delivery is missing.
    await t.app.ds.query(`DELETE FROM webhook_deliveries WHERE generation_id = $1 AND endpoint_id = $2`, [g.id, ep.endpoint.id]);
    expect(await t.app.reconcileWebhooks(0)).toMatchObject({ written: 1 });
    await until(async () => hits("/partly-lost-endpoint"), (h) => h.length === 2);
    expect(await t.app.reconcileWebhooks(0)).toMatchObject({ written: 0 });
    const ds = await settledDeliveries(u.key, { generationId: g.id }, 2);
    expect(ds.map((d) => d.target).sort()).toEqual(["CALLBACK", "ENDPOINT"]);
    await new Promise((r) => setTimeout(r, 200));
    expect(hits("/partly-lost-callback")).toHaveLength(1);
  });

  it("retries on 500 with exponential backoff and stops at the first 2xx; every attempt is logged with its status code", async () => {
    const u = await t.createUser();
    plans.set("/flaky", [500, 500, 200]);
    const ep = await endpoint(u.key, "/flaky", ["GENERATION_SUCCEEDED"]);
    const g = await gen(u.key, text("flaky receiver", { wait: 10 }));
    const [d] = await settledDeliveries(u.key, { endpointId: ep.endpoint.id });
    expect(d).toMatchObject({ generationId: g.id, status: "SUCCEEDED", attemptCount: 3, lastStatusCode: 200 });
    expect(d.attempts.map((a) => [a.attemptNo, a.status, a.statusCode, a.responseExcerpt, a.error])).toEqual([
      [1, "FAILED", 500, "boom", "HTTP 500"],
      [2, "FAILED", 500, "boom", "HTTP 500"],
      [3, "SUCCEEDED", 200, "ok", null],
    ]);
    const calls = hits("/flaky");
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.body)).size).toBe(1); // the same body (and event id) every time
    for (const c of calls) expect(verifyWebhook({ body: c.body, headers: c.headers as Record<string, string>, secret: ep.secret }).ok).toBe(true);
    // Backoff: retry n waits 20 ms × 2^n.
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(35);
    expect(calls[2].at - calls[1].at).toBeGreaterThanOrEqual(75);
    await new Promise((r) => setTimeout(r, 400));
    expect(hits("/flaky")).toHaveLength(3); // nothing after the 2xx
  });

  it("gives up after WEBHOOK_MAX_ATTEMPTS failures (FAILED); redeliverWebhook delivers again with the same body", async () => {
    const u = await t.createUser();
    plans.set("/down", [503]);
    const ep = await endpoint(u.key, "/down", ["GENERATION_SUCCEEDED"]);
    await gen(u.key, text("receiver down", { wait: 10 }));
    const [d] = await settledDeliveries(u.key, { endpointId: ep.endpoint.id });
    expect(d).toMatchObject({ status: "FAILED", attemptCount: 4, lastStatusCode: 503, lastError: "HTTP 503", nextAttemptAt: null });
    expect(d.attempts.map((a) => a.statusCode)).toEqual([503, 503, 503, 503]);
    expect(hits("/down")).toHaveLength(4);
    expect(await deliveries(u.key, { status: "FAILED" })).toHaveLength(1);

    plans.set("/down", [200]); // the receiver is back
    const res = await t.gql(u.key, REDELIVER, { id: d.id });
    expect(res.errors).toBeUndefined();
    expect(res.data!.redeliverWebhook.status).toBe("PENDING");
    const [again] = await settledDeliveries(u.key, { endpointId: ep.endpoint.id });
    expect(again).toMatchObject({ id: d.id, status: "SUCCEEDED", attemptCount: 5, lastStatusCode: 200 });
    expect(again.attempts.map((a) => [a.attemptNo, a.statusCode])).toEqual([[1, 503], [2, 503], [3, 503], [4, 503], [5, 200]]);
    const calls = hits("/down");
    expect(calls).toHaveLength(5);
    expect(calls[4].body).toBe(calls[0].body);
    expect(verifyWebhook({ body: calls[4].body, headers: calls[4].headers as Record<string, string>, secret: ep.secret }).ok).toBe(true);
  });

  it("an event type not subscribed is not delivered; a subscribed one is; a deleted endpoint gets nothing more", async () => {
    const u = await t.createUser();
    const ep = await endpoint(u.key, "/cancelled-only", ["GENERATION_CANCELLED", "GENERATION_FAILED"]);
    const ok = await gen(u.key, text("not for this endpoint", { wait: 10 }));
    expect(ok.status).toBe("SUCCEEDED");
    const slow = await gen(u.key, text("to be cancelled", { params: { simulate: { latencyMs: 10_000 } } }));
    expect((await t.gql(u.key, CANCEL, { id: slow.id })).data!.cancelGeneration.status).toBe("CANCELLED");
    const failed = await gen(u.key, text("to fail", { wait: 10, params: { simulate: { failWith: "unavailable" } } }));
    expect(failed.status).toBe("FAILED");
    const got = await until(async () => hits("/cancelled-only"), (h) => h.length === 2);
    expect(got.map((h) => JSON.parse(h.body).type).sort()).toEqual(["generation.cancelled", "generation.failed"]);
    expect(JSON.parse(got.find((h) => h.body.includes("generation.failed"))!.body).data.generation.error).toMatchObject({ code: expect.any(String) });
    expect(await deliveries(u.key, { generationId: ok.id })).toEqual([]);

    expect((await t.gql(u.key, DELETE_EP, { id: ep.endpoint.id })).data!.deleteWebhookEndpoint).toBe(true);
    expect((await t.gql(u.key, ENDPOINTS)).data!.webhookEndpoints).toEqual([]);
    const slow2 = await gen(u.key, text("cancelled after delete", { params: { simulate: { latencyMs: 10_000 } } }));
    await t.gql(u.key, CANCEL, { id: slow2.id });
    await new Promise((r) => setTimeout(r, 300));
    expect(hits("/cancelled-only")).toHaveLength(2);
    expect(await deliveries(u.key, { generationId: slow2.id })).toEqual([]);
  });

  it("a success reads its user's endpoints in its own transition: the subscribed one gets it, a deleted one and another user's do not, and no lookup of its own runs", async () => {
    const u = await t.createUser();
    const other = await t.createUser();
    const live = await endpoint(u.key, "/succ-live", ["GENERATION_SUCCEEDED"]);
    const gone = await endpoint(u.key, "/succ-gone", ["GENERATION_SUCCEEDED"]);
    await endpoint(u.key, "/succ-failed-only", ["GENERATION_FAILED"]);
    await endpoint(other.key, "/succ-other", ["GENERATION_SUCCEEDED"]);
    expect((await t.gql(u.key, DELETE_EP, { id: gone.endpoint.id })).data!.deleteWebhookEndpoint).toBe(true);
    const from = statements.length;
    const g = await gen(u.key, text("read with the transition", { wait: 10 }));
    expect(g.status).toBe("SUCCEEDED");
    const [d] = await settledDeliveries(u.key, { generationId: g.id });
    expect(d).toMatchObject({ status: "SUCCEEDED", target: "ENDPOINT", endpointId: live.endpoint.id, event: "GENERATION_SUCCEEDED" });
    expect(JSON.parse(hits("/succ-live")[0].body).data.generation.id).toBe(g.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(await deliveries(u.key, { generationId: g.id })).toHaveLength(1);
    expect([hits("/succ-gone"), hits("/succ-failed-only"), hits("/succ-other")]).toEqual([[], [], []]);
    const run = statements.slice(from);
    expect(run.some((q) => q.includes("AS live_webhook_endpoints"))).toBe(true);
    expect(run.filter((q) => /FROM webhook_endpoints WHERE user_id = ANY/.test(q))).toEqual([]);
  });

  it("refuses private targets at delivery: a name resolving to 127.0.0.1 (not allow-listed) and a private literal are BLOCKED, never connected to, never retried", async () => {
    const u = await t.createUser();
    const byName = await endpoint(u.key, "/ssrf", ["GENERATION_SUCCEEDED"], `http://localhost:${port}/ssrf`);
    const literal = await endpoint(u.key, "/literal", ["GENERATION_SUCCEEDED"], "https://hooks.example.com/literal");
    // As if the URL had been registered while allowed: the check at delivery still refuses it.
    await t.app.ds.query(`UPDATE webhook_endpoints SET url = 'http://10.0.0.1/hook' WHERE id = $1`, [literal.endpoint.id]);
    const g = await gen(u.key, text("ssrf attempt", { wait: 10 }));
    const ds = await settledDeliveries(u.key, { generationId: g.id }, 2);
    const named = ds.find((d) => d.endpointId === byName.endpoint.id)!;
    expect(named).toMatchObject({ status: "BLOCKED", attemptCount: 1, lastStatusCode: null });
    expect(named.attempts).toEqual([expect.objectContaining({ attemptNo: 1, status: "BLOCKED", statusCode: null })]);
    expect(named.attempts[0].error).toMatch(/^blocked: localhost resolves to .* loopback address/);
    const lit = ds.find((d) => d.endpointId === literal.endpoint.id)!;
    expect(lit).toMatchObject({ status: "BLOCKED", attemptCount: 1, url: "http://10.0.0.1/hook" });
    expect(lit.attempts[0].error).toBe("blocked: 10.0.0.1 is a private address");
    await new Promise((r) => setTimeout(r, 200));
    expect(hits("/ssrf")).toEqual([]);
    expect((await deliveries(u.key, { status: "BLOCKED" })).length).toBe(2);
  });

  it("malformed, non-http(s), credentialed and private-literal URLs are BAD_USER_INPUT naming the field; nothing is written", async () => {
    const u = await t.createUser();
    for (const url of ["not a url", "ftp://example.com/hook", "javascript:alert(1)", "http://user:pw@example.com/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[fd00:ec2::254]/", "http://metadata.google.internal/"]) {
      const res = await t.gql(u.key, CREATE_EP, { url, events: ["GENERATION_SUCCEEDED"] });
      expect(codeAndField(res), url).toEqual(["BAD_USER_INPUT:url"]);
    }
    expect(codeAndField(await t.gql(u.key, CREATE_EP, { url: `${base}/x`, events: [] }))).toEqual(["BAD_USER_INPUT:events"]);
    expect(codeAndField(await t.gql(u.key, CREATE_EP, { url: `${base}/x`, events: ["NOPE"] }))?.[0]).toMatch(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)/);
    expect((await t.gql(u.key, ENDPOINTS)).data!.webhookEndpoints).toEqual([]);

    await t.gql(u.key, ROTATE);
    for (const callbackUrl of ["notaurl", "file:///etc/passwd", "http://127.0.0.2/", "http://[::ffff:169.254.169.254]/"]) {
      const res = await t.gql(u.key, CREATE, { input: text("bad callback", { callbackUrl }) });
      expect(codeAndField(res), callbackUrl).toEqual(["BAD_USER_INPUT:callbackUrl"]);
    }
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [u.id]);
    expect(n).toBe(0);
    expect(codeAndField(await t.gql(u.key, CREATE, { input: text("too long", { callbackUrl: `${base}/${"x".repeat(2100)}` }) }))).toEqual(["BAD_USER_INPUT:callbackUrl"]);
  });

  it("users see only their own deliveries and endpoints; admins see everyone's", async () => {
    const a = await t.createUser();
    const b = await t.createUser();
    const ep = await endpoint(a.key, "/mine", ["GENERATION_SUCCEEDED"]);
    const g = await gen(a.key, text("private delivery", { wait: 10 }));
    const [d] = await settledDeliveries(a.key, { generationId: g.id });
    expect(await deliveries(b.key)).toEqual([]);
    expect(await deliveries(b.key, { generationId: g.id })).toEqual([]);
    expect(await deliveries(b.key, { endpointId: ep.endpoint.id })).toEqual([]);
    expect((await t.gql(b.key, REDELIVER, { id: d.id })).errors?.[0].extensions?.code).toBe("NOT_FOUND");
    expect((await t.gql(b.key, DELETE_EP, { id: ep.endpoint.id })).errors?.[0].extensions?.code).toBe("NOT_FOUND");
    expect((await t.gql(b.key, ENDPOINTS)).data!.webhookEndpoints).toEqual([]);
    const admin = await deliveries(t.adminKey, { first: 100 });
    expect(admin.map((x) => x.id)).toContain(d.id);
    expect(new Set(admin.map((x) => x.userId)).size).toBeGreaterThan(1);
    expect(codeAndField(await t.gql(a.key, DELIVERIES, { first: 0 }))).toEqual(["BAD_USER_INPUT:first"]);
    expect(codeAndField(await t.gql(a.key, DELIVERIES, { generationId: "nope" }))).toEqual(["BAD_USER_INPUT:generationId"]);
  });

  it("quota.warning is delivered (and a budget_warning alert raised) when a budget crosses the warning ratio", async () => {
    const u = await t.createUser();
    const ep = await endpoint(u.key, "/quota", ["QUOTA_WARNING"]);
    const input = text("budget burner", { text: { maxTokens: 50 } });
    const est = await estimate(t, u.key, input);
    await setQuota(t, u.id, Math.round(est * 1.1)); // one reservation takes > 80%
    await gen(u.key, { ...input, wait: 10 });
    const [hit] = await until(async () => hits("/quota"), (h) => h.length === 1);
    const body = JSON.parse(hit.body);
    expect(hit.headers["switchboard-event"]).toBe("quota.warning");
    expect(body).toMatchObject({ type: "quota.warning", data: { quota: { userId: u.id, warnRatio: 0.8 } } });
    expect(body.data.quota.limitUsd).toBeCloseTo(Math.round(est * 1.1) / 1e6, 6);
    expect(verifyWebhook({ body: hit.body, headers: hit.headers as Record<string, string>, secret: ep.secret }).ok).toBe(true);
    const [d] = await settledDeliveries(u.key, { endpointId: ep.endpoint.id });
    expect(d).toMatchObject({ event: "QUOTA_WARNING", generationId: null, status: "SUCCEEDED" });
    const alerts = await t.app.ds.query(`SELECT kind, severity, details FROM alerts WHERE kind = 'budget_warning' AND details->>'userId' = $1`, [u.id]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].severity).toBe("warning");
    // Once per period: a second generation crosses nothing new.
    await t.gql(u.key, CREATE, { input: text("over budget now", { text: { maxTokens: 50 }, wait: 10 }) });
    await new Promise((r) => setTimeout(r, 300));
    expect(hits("/quota")).toHaveLength(1);
  });
});
