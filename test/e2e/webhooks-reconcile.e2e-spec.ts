import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { text, until } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const CREATE_EP = `mutation($url: String!, $events: [WebhookEventType!]!) { createWebhookEndpoint(url: $url, events: $events) { endpoint { id } } }`;

/**
 * The reconciler (the sweep's "nothing is lost" pass) walks terminal generations by a cursor:
 * a backlog of generations owed no delivery cannot stall it, and an endpoint is never a
 * backfill of generations that finished before it existed.
 */
describe("webhooks: reconciliation by a cursor, no backfill", () => {
  let t: TestApp;
  let server: http.Server;
  let base: string;
  const received: { path: string; generationId: string }[] = [];
  const hits = (path: string) => received.filter((r) => r.path === path);

  async function gen(key: string, prompt: string): Promise<string> {
    const res = await t.gql(key, CREATE, { input: text(prompt, { wait: 10 }) });
    expect(res.errors).toBeUndefined();
    expect(res.data!.createGeneration.status).toBe("SUCCEEDED");
    return res.data!.createGeneration.id;
  }
  async function endpoint(key: string, path: string, events: string[]): Promise<string> {
    const res = await t.gql(key, CREATE_EP, { url: `${base}${path}`, events });
    expect(res.errors).toBeUndefined();
    return res.data!.createWebhookEndpoint.endpoint.id;
  }
  /** Copies of a real generation row, as if they had finished at the given times (no delivery rows). */
  async function copies(templateId: string, n: number, status: string, completedAtSql: string): Promise<string[]> {
    const cols: { column_name: string }[] = await t.app.ds.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'generations' AND column_name NOT IN ('id','status','completed_at')`,
    );
    const list = cols.map((c) => `"${c.column_name}"`).join(", ");
    const rows: { id: string }[] = await t.app.ds.query(
      `INSERT INTO generations (id, status, completed_at, ${list})
       SELECT gen_random_uuid(), $2, ${completedAtSql}, ${list} FROM generations, generate_series(1, $3) AS i WHERE id = $1
       RETURNING id`,
      [templateId, status, n],
    );
    return rows.map((r) => r.id);
  }

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ path: (req.url ?? "/").split("?")[0], generationId: JSON.parse(body).data?.generation?.id ?? JSON.parse(body).id });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startTestApp({ webhooks: { allowedHosts: ["127.0.0.1"], maxAttempts: 2, backoffBaseMs: 20, timeoutMs: 2000 } });
  });
  afterAll(async () => {
    await t?.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  // First in the file: its rows finished minutes ago, ahead of anything a sweep has passed yet.
  it("a backlog of more than 500 terminal generations whose event no endpoint subscribes to does not stop lost deliveries behind it from being recreated, once", async () => {
    const u = await t.createUser();
    const epId = await endpoint(u.key, "/failed-only", ["GENERATION_FAILED"]);
    await t.app.ds.query(`UPDATE webhook_endpoints SET created_at = now() - interval '1 hour' WHERE id = $1`, [epId]);
    const template = await gen(u.key, "template row");
    // 700 SUCCEEDED (not subscribed: owed nothing) finished 10 minutes ago, then 2 FAILED whose
    // deliveries were lost (a crash between the transition and the insert) 5 minutes ago.
    await copies(template, 700, "SUCCEEDED", `now() - interval '10 minutes' + i * interval '1 millisecond'`);
    const lost = await copies(template, 2, "FAILED", `now() - interval '5 minutes' + i * interval '1 millisecond'`);

    const first = await t.app.reconcileWebhooks(0);
    const delivered = await until(async () => hits("/failed-only"), (h) => h.length >= 2, 20_000);
    expect(delivered.map((h) => h.generationId).sort()).toEqual([...lost].sort());
    // One more sweep (and any background one) recreates nothing: exactly once.
    const second = await t.app.reconcileWebhooks(0);
    expect(first.written + second.written).toBeLessThanOrEqual(2);
    expect(second.written).toBe(0);
    const rows = await t.app.ds.query(`SELECT generation_id, status FROM webhook_deliveries WHERE endpoint_id = $1`, [epId]);
    expect(rows.map((r: { generation_id: string }) => r.generation_id).sort()).toEqual([...lost].sort());
    await new Promise((r) => setTimeout(r, 300));
    expect(hits("/failed-only")).toHaveLength(2);
  });

  it("an endpoint created after N generations finished gets none of them, only what finishes after it", async () => {
    const u = await t.createUser();
    const before: string[] = [];
    for (let i = 0; i < 5; i++) before.push(await gen(u.key, `before the endpoint ${i}`));
    await new Promise((r) => setTimeout(r, 20)); // strictly after, on any clock
    const epId = await endpoint(u.key, "/new-endpoint", ["GENERATION_SUCCEEDED", "GENERATION_FAILED", "GENERATION_CANCELLED"]);

    // The sweep that looks for lost deliveries does not mistake history for losses…
    expect((await t.app.reconcileWebhooks(0)).written).toBe(0);
    // …and the endpoint gets what finishes from now on.
    const after = await gen(u.key, "after the endpoint");
    await until(async () => hits("/new-endpoint"), (h) => h.length >= 1, 15_000);
    expect((await t.app.reconcileWebhooks(0)).written).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(hits("/new-endpoint").map((h) => h.generationId)).toEqual([after]);
    const rows = await t.app.ds.query(`SELECT generation_id FROM webhook_deliveries WHERE endpoint_id = $1`, [epId]);
    expect(rows.map((r: { generation_id: string }) => r.generation_id)).toEqual([after]);
    expect(before).not.toContain(after);
  });

  it("several workers sweeping at once write each lost delivery exactly once", async () => {
    const u = await t.createUser();
    const epId = await endpoint(u.key, "/concurrent", ["GENERATION_SUCCEEDED"]);
    await t.app.ds.query(`UPDATE webhook_endpoints SET created_at = now() - interval '1 hour' WHERE id = $1`, [epId]);
    const template = await gen(u.key, "template for the race");
    await until(async () => hits("/concurrent"), (h) => h.length === 1);
    // Lost deliveries of 50 generations that finished just now (ahead of the cursor).
    const lost = await copies(template, 50, "SUCCEEDED", `now() + i * interval '1 microsecond'`);
    await new Promise((r) => setTimeout(r, 50));
    const sweeps = await Promise.all([0, 1, 2, 3].map(() => t.app.reconcileWebhooks(0)));
    expect(sweeps.reduce((n, s) => n + s.written, 0)).toBe(50);
    await until(async () => hits("/concurrent"), (h) => h.length >= 51, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const got = hits("/concurrent").map((h) => h.generationId);
    expect(got).toHaveLength(51);
    expect(new Set(got)).toEqual(new Set([template, ...lost]));
  });

  it("a backlog of more than 500 pending deliveries backing off does not hide a lost delivery job behind it", async () => {
    const u = await t.createUser();
    const epId = await endpoint(u.key, "/requeued", ["QUOTA_WARNING"]);
    const insert = (ids: string[], ago: string) =>
      t.app.ds.query(
        `INSERT INTO webhook_deliveries (id, event_id, user_id, endpoint_id, target, event, url, body, status, updated_at, next_attempt_at)
         SELECT x, gen_random_uuid(), $2, $3, 'endpoint', 'quota.warning', $4, json_build_object('id', x, 'type', 'quota.warning')::text, 'PENDING', now() - $5::interval, now() + interval '1 hour'
           FROM unnest($1::uuid[]) AS x`,
        [ids, u.id, epId, `${base}/requeued`, ago],
      );
    // 600 backing off (their retry jobs are delayed an hour), the oldest of all…
    const backingOff = Array.from({ length: 600 }, () => randomUUID());
    await insert(backingOff, "10 minutes");
    const queue = new Queue("webhooks", { connection: { host: "127.0.0.1", port: 6379 }, prefix: t.config.redis.prefix });
    try {
      await queue.addBulk(backingOff.map((id) => ({ name: "deliver", data: { deliveryId: id }, opts: { jobId: `${id}-0`, delay: 3_600_000 } })));
    } finally {
      await queue.close();
    }
    // …and 2 behind them whose jobs were lost (Redis flushed, enqueue failed).
    const lostJobs = [randomUUID(), randomUUID()];
    await insert(lostJobs, "5 minutes");

    const { requeued } = await t.app.reconcileWebhooks(0);
    expect(requeued).toBe(2);
    const delivered = await until(async () => hits("/requeued"), (h) => h.length >= 2, 15_000);
    expect(delivered.map((h) => h.generationId).sort()).toEqual([...lostJobs].sort());
    expect((await t.app.reconcileWebhooks(0)).requeued).toBe(0); // their jobs exist now (or finished): once
  });
});
