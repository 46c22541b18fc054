/**
 * The web dashboard at /dashboard/ in a real headless Chromium (Debian's chromium driven by
 * playwright-core, a fresh profile, no downloaded browser), against the real server, Postgres and
 * Redis: sign in with an API key, watch a generation go QUEUED → RUNNING → SUCCEEDED live in the
 * table, stream it in the detail view, cancel one from the table, watch a circuit open when the
 * simulated provider fails (and reset it from the page), read the Spend page's figures and
 * charts, create and rotate a key and pause/resume the queue on the Admin page, and open Bull
 * Board through a signed link. Screenshots go to test-artifacts/dashboard/ (gitignored); the
 * pages must log no console errors (CSP violations included) and make no request off 127.0.0.1.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const available = existsSync(CHROMIUM);
if (!available && !process.env.CI) console.warn(`dashboard.e2e-spec: skipped, ${CHROMIUM} is absent (apt-get install -y chromium)`);

const ROOT = path.join(__dirname, "..", "..");
const ARTIFACTS = path.join(ROOT, "test-artifacts", "dashboard");
// A clean clone has no dist/dashboard yet: build it (Vite) when missing or stale.
const { ensureDashboard } = require(path.join(ROOT, "scripts", "ensure-build.js")) as { ensureDashboard(o?: { log?: (s: string) => void }): string };

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const FAULT = `mutation($p: ID!, $r: Float!) { setSimulatedFaults(provider: $p, failRate: $r, failWith: "unavailable") }`;

/** The mutations other parts of issue 17 add; the Admin page's tests need them in the schema. */
const schemaHas = async (t: TestApp, type: "Mutation" | "Query", field: string) => {
  const r = await t.gql(t.adminKey, `{ __type(name: "${type}") { fields { name } } }`);
  return ((r.data?.__type?.fields ?? []) as { name: string }[]).some((f) => f.name === field);
};

describe.skipIf(!available && !process.env.CI)("the dashboard at /dashboard/, in headless Chromium", () => {
  let t: TestApp;
  let user: { id: string; key: string };
  const email = `dash-${Date.now()}@test.local`;
  let dir: string;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const problems: string[] = [];

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const rowStatus = (id: string) => page.getAttribute(`#generations-table tr[data-id="${id}"]`, "data-status", { timeout: 500 }).catch(() => null);
  const signIn = async (key: string, who: string) => {
    if (await page.isVisible("#signout")) await page.click("#signout");
    await page.fill('input[name="apiKey"]', key);
    await page.click('#signin button[type="submit"]');
    await page.waitForFunction((w) => (globalThis as any).document.querySelector("#whoami")?.textContent?.includes(w), who, { timeout: 30_000 });
  };

  beforeAll(async () => {
    ensureDashboard({ log: (s) => process.stderr.write(`${s}\n`) });
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestApp({
      providers: { simulatedExtra: ["simulated-b"] },
      // One slot: a generation behind a running one stays QUEUED long enough to be seen.
      worker: { concurrency: 1, attempts: 1 },
      resilience: { failureThreshold: 2, resetMs: 120_000 },
    });
    user = await t.createUser(email);
    dir = mkdtempSync(path.join(os.tmpdir(), "switchboard-dashboard-"));
    context = await chromium.launchPersistentContext(path.join(dir, "profile"), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("request", (r) => void requests.push(r.url()));
    page.on("websocket", (ws) => void requests.push(ws.url()));
    page.on("console", (m) => void (m.type() === "error" && problems.push(`${page.url()}: ${m.text()}`)));
    page.on("pageerror", (e) => void problems.push(`${page.url()}: ${e.message}`));
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves the built page with a CSP of this origin only, and signs in with an API key (sessionStorage, no cookies)", async () => {
    const res = await fetch(`http://127.0.0.1:${t.port}/dashboard/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(await res.text()).not.toMatch(/<script>(?!<\/script>)/); // no inline script
    expect((await fetch(`http://127.0.0.1:${t.port}/dashboard`, { redirect: "manual" })).headers.get("location")).toBe("/dashboard/");

    await page.goto(`http://127.0.0.1:${t.port}/dashboard/`);
    await page.waitForSelector("#signin", { timeout: 60_000 });
    // A wrong key is refused with the API's code, not a blank page.
    await page.fill('input[name="apiKey"]', "sk_wrong");
    await page.click('#signin button[type="submit"]');
    await page.waitForSelector('#signin .error[data-code="UNAUTHENTICATED"]', { timeout: 30_000 });
    problems.length = 0; // the 401 of that attempt is the expected one
    await signIn(user.key, email);
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem("switchboard.apiKey"))).toBe(user.key);
    expect(await context.cookies()).toEqual([]);
    await shot("signed-in");
  }, 120_000);

  it("shows a generation go QUEUED → RUNNING → SUCCEEDED live in the table, then streams it in the detail view", async () => {
    await page.waitForSelector("#generations-table");
    await new Promise((r) => setTimeout(r, 500)); // graphql-ws has no subscribe ack
    // The one worker slot is taken by a blocker, so the watched one waits in the queue.
    const blocker = (await t.gql(user.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "blocker", text: { maxTokens: 32 }, params: { simulate: { latencyMs: 3000 } } } })).data!.createGeneration.id as string;
    const watched = (await t.gql(user.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "watch me", text: { maxTokens: 32 }, params: { simulate: { latencyMs: 1500 } } } })).data!.createGeneration.id as string;
    const seen: string[] = [];
    const deadline = Date.now() + 120_000; // a loaded machine: generous, never a timing assertion
    while (Date.now() < deadline) {
      const s = await rowStatus(watched);
      if (s && seen.at(-1) !== s) seen.push(s);
      if (s === "SUCCEEDED") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const why = async () => JSON.stringify((await t.gql(user.key, `query($id: ID!) { generation(id: $id) { status error { code message } attempts { provider status errorKind errorMessage } } }`, { id: watched })).data);
    expect(seen[0], await why()).toBe("QUEUED");
    expect(seen.at(-1), `${seen.join(" → ")}: ${await why()}`).toBe("SUCCEEDED");
    expect(seen).toContain("RUNNING");
    expect(await rowStatus(blocker)).toBe("SUCCEEDED");
    await shot("generations");

    await page.click(`#generations-table tr[data-id="${watched}"] a`);
    await page.waitForSelector('[data-page="generation"] [data-status="SUCCEEDED"]', { timeout: 30_000 });
    await page.waitForFunction(() => ((globalThis as any).document.querySelector("#generation-text")?.textContent ?? "").length > 0, undefined, { timeout: 30_000 });
    const api = await t.gql(user.key, `query($id: ID!) { generation(id: $id) { output { text } } }`, { id: watched });
    expect(await page.textContent("#generation-text")).toBe(api.data!.generation.output.text);
    await shot("generation-detail");
    await page.click('a[href="#/generations"]');
  }, 240_000);

  it("cancels a running generation from the table", async () => {
    const id = (await t.gql(user.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "cancel me", params: { simulate: { latencyMs: 15_000 } } } })).data!.createGeneration.id as string;
    const button = `#generations-table tr[data-id="${id}"] button[data-action="cancel"]`;
    await page.waitForSelector(button, { timeout: 30_000 });
    await page.click(button);
    await page.waitForSelector(`#generations-table tr[data-id="${id}"][data-status="CANCELLED"]`, { timeout: 30_000 });
    const api = await t.gql(user.key, `query($id: ID!) { generation(id: $id) { status } }`, { id });
    expect(api.data!.generation.status).toBe("CANCELLED");
  }, 60_000);

  it("shows a circuit open when the simulated provider fails, and an admin resets it from the page", async () => {
    await signIn(t.adminKey, "ADMIN");
    await page.click('a[data-nav="providers"]');
    const row = '[data-circuit="simulated-b/*"]';
    await page.waitForSelector(`${row}[data-state="CLOSED"]`, { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 500)); // graphql-ws has no subscribe ack
    expect((await t.gql(t.adminKey, FAULT, { p: "simulated-b", r: 1 })).errors).toBeUndefined();
    for (let i = 0; i < 2; i++) {
      const g = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated-b/text", prompt: `fail ${i}`, wait: 20 } });
      expect(g.data!.createGeneration.status).toBe("FAILED");
    }
    await page.waitForSelector(`${row}[data-state="OPEN"]`, { timeout: 30_000 });
    await page.waitForFunction(() => ((globalThis as any).document.querySelector("#circuit-events")?.textContent ?? "").includes("OPEN"), undefined, { timeout: 30_000 });
    await shot("providers-circuit-open");
    await t.gql(t.adminKey, FAULT, { p: "simulated-b", r: 0 });
    await page.click(`${row} button[data-action="reset"]`);
    await page.waitForSelector(`${row}[data-state="CLOSED"]`, { timeout: 30_000 });
    const api = await t.gql(t.adminKey, `{ providers { id circuits { state } } }`);
    expect(api.data!.providers.find((p: any) => p.id === "simulated-b").circuits[0].state).toBe("CLOSED");
  }, 120_000);

  it("shows the budget and the cost and latency charts by day, model and provider", async () => {
    await signIn(user.key, email);
    await page.click('a[data-nav="spend"]');
    await page.waitForSelector("#quota [data-figure=spent]", { timeout: 30_000 });
    const q = (await t.gql(user.key, `{ quota { spentUsd warnAtUsd limitUsd } }`)).data!.quota;
    expect(q.warnAtUsd).toBeCloseTo(q.limitUsd * t.config.quotas.warnRatio, 6);
    expect(await page.textContent("#quota [data-figure=warn]")).toContain("%");
    await page.waitForSelector("#chart-cost canvas", { timeout: 30_000 });
    await page.waitForSelector("#chart-latency canvas", { timeout: 30_000 });
    expect(await page.textContent("#by-model")).toContain("simulated/text");
    expect(await page.textContent("#by-provider")).toContain("simulated");
    expect(await page.textContent("#top-by-use")).toContain("simulated/text");
    await shot("spend");
  }, 60_000);

  it("Admin: creates and rotates a key (the old one keeps working through the overlap)", async (ctx) => {
    if (!(await schemaHas(t, "Mutation", "rotateApiKey"))) return ctx.skip(); // issue 17's key API has not landed
    await signIn(t.adminKey, "ADMIN");
    await page.click('a[data-nav="admin"]');
    const label = `dash-${Date.now()}`;
    await page.fill('#create-key input[name="label"]', label);
    await page.click('#create-key button[type="submit"]');
    await page.waitForSelector("#new-key code", { timeout: 30_000 });
    const created = (await page.textContent("#new-key code"))!.trim();
    expect((await t.gql(created, `{ me { role } }`)).data?.me.role).toBe("ADMIN");
    await page.fill('#create-key input[name="overlap"]', "60");
    await page.click(`#keys-table tr[data-key-label="${label}"][data-revoked="no"] button[data-action="rotate"]`);
    await page.waitForFunction((old) => { const c = (globalThis as any).document.querySelector("#new-key code")?.textContent?.trim(); return c && c !== old; }, created, { timeout: 30_000 });
    const rotated = (await page.textContent("#new-key code"))!.trim();
    expect((await t.gql(rotated, `{ me { role } }`)).data?.me.role).toBe("ADMIN");
    expect((await t.gql(created, `{ me { role } }`)).data?.me.role).toBe("ADMIN"); // inside the 60 s overlap
    await shot("admin-keys");
  }, 60_000);

  it("Admin: pauses and resumes the queue (paused work stays QUEUED)", async (ctx) => {
    if (!(await schemaHas(t, "Mutation", "pauseQueue"))) return ctx.skip(); // issue 17's queue controls have not landed
    await signIn(t.adminKey, "ADMIN");
    await page.click('a[data-nav="admin"]');
    await page.waitForSelector('#queue[data-paused="false"]', { timeout: 30_000 });
    await page.click('button[data-action="pause"]');
    await page.waitForSelector('#queue[data-paused="true"]', { timeout: 30_000 });
    const id = (await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "paused" } })).data!.createGeneration.id as string;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status } }`, { id })).data!.generation.status).toBe("QUEUED");
    await shot("admin-queue-paused");
    await page.click('button[data-action="resume"]');
    await page.waitForSelector('#queue[data-paused="false"]', { timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    let status = "QUEUED";
    while (Date.now() < deadline && status !== "SUCCEEDED") {
      status = (await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status } }`, { id })).data!.generation.status;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status, JSON.stringify(await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status error { code message } } queue { paused waiting active delayed } }`, { id }))).toBe("SUCCEEDED");
  }, 90_000);

  it("Bull Board: an admin's signed link opens it; no key, a user's key, a forged or expired token are refused", async () => {
    const base = `http://127.0.0.1:${t.port}/admin/queues`;
    const api = (p: string, key?: string) => fetch(`${base}${p}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const none = await api("/api/queues");
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    const asUser = await api("/api/queues", user.key);
    expect(asUser.status).toBe(403);
    expect(((await asUser.json()) as any).errors[0].extensions.code).toBe("FORBIDDEN");
    const asAdmin = await api("/api/queues", t.adminKey);
    expect(asAdmin.status).toBe(200);
    expect((((await asAdmin.json()) as any).queues as { name: string }[]).map((q) => q.name).sort()).toEqual(["analytics", "generations", "webhooks"]);
    expect((await t.gql(user.key, `mutation { bullBoardLink { url } }`)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    for (const bad of ["/s/forged.token/api/queues", "/s/eyJzdWIiOiJ4IiwiZXhwIjoxfQ.AAAA/api/queues"]) {
      const r = await api(bad);
      expect(r.status).toBe(401);
    }

    await signIn(t.adminKey, "ADMIN");
    await page.click('a[data-nav="admin"]');
    await page.click("#bull-board-link");
    await page.waitForSelector("#bull-board-open", { timeout: 30_000 });
    await shot("admin");
    const href = (await page.getAttribute("#bull-board-open", "href"))!;
    expect(href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/admin\/queues\/s\/[^/]+\/$/);
    // Its own tab: Bull Board is not our page, its console is not held to ours.
    const board = await context.newPage();
    const boardErrors: string[] = [];
    board.on("pageerror", (e) => void boardErrors.push(e.message));
    await board.goto(href);
    await board.waitForFunction(() => /generations/.test((globalThis as any).document.body?.innerText ?? "") && /webhooks/.test((globalThis as any).document.body?.innerText ?? ""), undefined, { timeout: 60_000 });
    await board.screenshot({ path: path.join(ARTIFACTS, "bull-board.png"), fullPage: true });
    expect(boardErrors).toEqual([]);
    await board.close();
  }, 120_000);

  it("the pages logged no console errors and nothing left 127.0.0.1", () => {
    expect(problems).toEqual([]);
    const outside = requests.filter((u) => !/^(https?|wss?):\/\/127\.0\.0\.1:\d+\//.test(u) && !u.startsWith("data:"));
    expect(outside).toEqual([]);
  });
});
