import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { text, until } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const CREATE_EP = `mutation($url: String!, $events: [WebhookEventType!]!) { createWebhookEndpoint(url: $url, events: $events) { endpoint { id } } }`;

const ENDPOINT_CAP = 2;
const USER_CAP = 3;
const TIMEOUT_MS = 4000;

/**
 * One tenant's endpoints accept TCP and never answer (every attempt runs into the timeout);
 * hundreds of deliveries are queued to them ahead of another tenant's. The caps per endpoint
 * and per user keep the dead host to a few worker slots, across workers, so the healthy
 * tenant's deliveries keep flowing.
 */
describe("webhooks: one unreachable endpoint starves no one", () => {
  let t: TestApp;
  let dead: net.Server;
  let healthy: http.Server;
  let deadBase: string;
  let healthyBase: string;
  const sockets = new Set<net.Socket>();
  let open = 0;
  let maxOpen = 0;
  let connections = 0;
  const openByPath = new Map<string, number>();
  const maxByPath = new Map<string, number>();
  const arrived: { generationId: string; at: number }[] = [];

  async function endpoint(key: string, url: string): Promise<string> {
    const res = await t.gql(key, CREATE_EP, { url, events: ["GENERATION_SUCCEEDED"] });
    expect(res.errors).toBeUndefined();
    return res.data!.createWebhookEndpoint.endpoint.id;
  }
  async function gen(key: string, prompt: string): Promise<string> {
    const res = await t.gql(key, CREATE, { input: text(prompt, { wait: 20 }) });
    expect(res.errors).toBeUndefined();
    expect(res.data!.createGeneration.status).toBe("SUCCEEDED");
    return res.data!.createGeneration.id;
  }

  beforeAll(async () => {
    // Accepts, reads the request, never answers; counts connections open at once, in all and per path.
    dead = net.createServer((socket) => {
      sockets.add(socket);
      connections++;
      maxOpen = Math.max(maxOpen, ++open);
      let path: string | undefined;
      socket.once("data", (chunk) => {
        path = /^POST (\S+)/.exec(chunk.toString("latin1"))?.[1]?.split("?")[0] ?? "?";
        const n = (openByPath.get(path) ?? 0) + 1;
        openByPath.set(path, n);
        maxByPath.set(path, Math.max(maxByPath.get(path) ?? 0, n));
      });
      socket.on("error", () => undefined);
      socket.on("close", () => {
        sockets.delete(socket);
        open--;
        if (path) openByPath.set(path, openByPath.get(path)! - 1);
      });
    });
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    deadBase = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    healthy = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        arrived.push({ generationId: JSON.parse(body).data.generation.id, at: Date.now() });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => healthy.listen(0, "127.0.0.1", () => r()));
    healthyBase = `http://127.0.0.1:${(healthy.address() as AddressInfo).port}`;
    t = await startTestApp({
      webhooks: {
        allowedHosts: ["127.0.0.1"], maxAttempts: 1, backoffBaseMs: 20, timeoutMs: TIMEOUT_MS,
        concurrency: 16, endpointConcurrency: ENDPOINT_CAP, userConcurrency: USER_CAP,
      },
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await t?.close();
    for (const s of sockets) s.destroy();
    dead.close();
    healthy.closeAllConnections();
    await new Promise((r) => healthy.close(r));
  });

  it("hundreds of deliveries to a dead host hold at most the caps of connections; another tenant's deliveries all arrive meanwhile", async () => {
    const noisy = await t.createUser();
    const deadA = await endpoint(noisy.key, `${deadBase}/dead-a`);
    const deadB = await endpoint(noisy.key, `${deadBase}/dead-b`);
    await t.app.ds.query(`UPDATE webhook_endpoints SET created_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`, [[deadA, deadB]]);
    const template = await gen(noisy.key, "noisy tenant");
    // 300 more of the noisy tenant's generations finished a minute ago without their deliveries:
    // the reconciler writes and enqueues all 600 at once, ahead of anything else.
    const cols: { column_name: string }[] = await t.app.ds.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'generations' AND column_name NOT IN ('id','completed_at')`,
    );
    const list = cols.map((c) => `"${c.column_name}"`).join(", ");
    await t.app.ds.query(
      `INSERT INTO generations (id, completed_at, ${list})
       SELECT gen_random_uuid(), now() - interval '1 minute' + i * interval '1 millisecond', ${list} FROM generations, generate_series(1, 300) AS i WHERE id = $1`,
      [template],
    );
    const { written } = await t.app.reconcileWebhooks(0);
    expect(written).toBeGreaterThanOrEqual(600); // 602 with the template's own, if the live path had not written them yet

    const quiet = await t.createUser();
    await endpoint(quiet.key, `${healthyBase}/healthy`);
    const started = Date.now();
    const mine: string[] = [];
    for (let round = 0; round < 4; round++) mine.push(...(await Promise.all(Array.from({ length: 5 }, (_, i) => gen(quiet.key, `quiet tenant ${round}.${i}`)))));
    // Generous for a loaded machine; starved behind 600 dead attempts at 16 per worker it would take ≈ 150 s.
    const got = await until(async () => arrived.filter((a) => mine.includes(a.generationId)), (a) => a.length >= mine.length, 45_000);
    expect(new Set(got.map((a) => a.generationId))).toEqual(new Set(mine));
    expect(Date.now() - started).toBeLessThan(45_000);

    // Meanwhile the dead host was tried, never by more than the caps at once.
    await until(async () => connections, (n) => n >= USER_CAP * 2, 30_000);
    expect(maxOpen).toBeGreaterThanOrEqual(2);
    expect(maxOpen).toBeLessThanOrEqual(USER_CAP);
    for (const path of ["/dead-a", "/dead-b"]) expect(maxByPath.get(path) ?? 0, path).toBeLessThanOrEqual(ENDPOINT_CAP);
    // Nothing was dropped: the noisy tenant's deliveries are still pending (parked or in flight), not lost.
    const [{ pending, failed }] = await t.app.ds.query(
      `SELECT count(*) FILTER (WHERE status = 'PENDING')::int AS pending, count(*) FILTER (WHERE status = 'FAILED')::int AS failed FROM webhook_deliveries WHERE user_id = $1`,
      [noisy.id],
    );
    expect(pending + failed).toBe(602);
    expect(failed).toBeGreaterThan(0);
    expect(pending).toBeGreaterThan(500);
  }, 120_000);
});
