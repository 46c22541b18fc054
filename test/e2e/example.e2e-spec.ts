/**
 * `npm run example` (the README's typed-client example) against a running server: what it prints
 * as streamed text — the SNAPSHOT's text, then the deltas — is the whole answer from its first
 * character, even when the generation started streaming before the subscription was live.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const ROOT = path.resolve(__dirname, "../..");

/**
 * A TCP proxy in front of the server that holds each WebSocket upgrade for `delayMs` (a slow path
 * to the socket, as over a real network): the generation is well into streaming by the time the
 * subscription is live, so only the SNAPSHOT can give the start of the text.
 */
async function slowSocketProxy(target: number, delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = net.createServer((client) => {
    client.once("data", (first) => {
      const upstream = net.connect(target, "127.0.0.1");
      const go = () => {
        upstream.write(first);
        client.pipe(upstream).pipe(client);
      };
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
      if (/upgrade: websocket/i.test(first.toString("latin1"))) setTimeout(go, delayMs);
      else go();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/graphql`, close: () => new Promise((r) => server.close(() => r())) };
}

function example(t: TestApp, url: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", "--silent", "example", "--", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SWITCHBOARD_URL: url, SWITCHBOARD_API_KEY: t.adminKey },
    });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** The text a reader of the output sees streamed: the snapshot's text so far, then each delta. */
function streamed(out: string): string {
  let text = "";
  for (const line of out.split("\n")) {
    const snap = /^\s+#\d+ SNAPSHOT \S+(?: text so far (".*"))?$/.exec(line);
    if (snap) text = snap[1] ? (JSON.parse(snap[1]) as string) : "";
    const delta = /^\s+#\d+ DELTA (".*")$/.exec(line);
    if (delta) text += JSON.parse(delta[1]) as string;
    if (/^\s+#\d+ RESTARTED/.test(line)) text = "";
  }
  return text;
}

describe("npm run example", { timeout: 120_000 }, () => {
  let t: TestApp;
  let proxy: Awaited<ReturnType<typeof slowSocketProxy>>;
  beforeAll(async () => {
    t = await startTestApp();
    proxy = await slowSocketProxy(t.port, 800);
  });
  afterAll(async () => {
    await proxy?.close();
    await t?.close();
  });

  it("prints the whole text, from the snapshot on, and the stored output matches", async () => {
    // The example streams over ~1.5 s; its WebSocket is live only ~0.8 s after the generation was created.
    for (let i = 0; i < 2; i++) {
      const r = await example(t, proxy.url, ["text", `Write a haiku about queue ${i}`]);
      expect(r.code, r.out).toBe(0);
      const [{ text }] = await t.app.ds.query(`SELECT output->>'text' AS text FROM generations ORDER BY created_at DESC LIMIT 1`);
      expect(text).toMatch(/^Simulated answer to: Write a haiku about queue \d/);
      expect(streamed(r.out), r.out).toBe(text);
      expect(r.out.trim().split("\n").at(-1)).toBe(text);
    }
  });

  it("an image prints its URL", async () => {
    const r = await example(t, proxy.url, ["image", "a red fox"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out.trim().split("\n").at(-1)).toMatch(/^http:\/\/.+\/files\/.+\.png\?exp=\d+&sig=/);
  });
});
