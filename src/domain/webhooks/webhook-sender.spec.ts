import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddressPolicy } from "./address-policy";
import { WebhookSender } from "./webhook-sender";

/** A local receiver whose answer each test sets. */
describe("WebhookSender", () => {
  let server: http.Server;
  let port: number;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => r.end();
  let hits = 0;
  const allowed = new WebhookSender(new AddressPolicy(["127.0.0.1"]), 500);
  const strict = new WebhookSender(new AddressPolicy([]), 500);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits++;
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    allowed.close();
    strict.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("delivers to an allow-listed host and keeps a ≤ 500-char excerpt of the answer", async () => {
    let got = "";
    handler = (req, res) => {
      req.on("data", (c) => (got += c));
      req.on("end", () => res.writeHead(200).end("ok ".repeat(1000)));
    };
    const r = await allowed.send(`http://127.0.0.1:${port}/hook`, '{"a":1}', { "switchboard-signature": "t=1,v1=x" });
    expect(r).toMatchObject({ outcome: "delivered", statusCode: 200, error: null });
    expect(r.excerpt!.length).toBe(500);
    expect(got).toBe('{"a":1}');
  });

  it("does not follow redirects: a 3xx is a failed attempt", async () => {
    handler = (_q, res) => res.writeHead(302, { location: "http://169.254.169.254/" }).end();
    expect(await allowed.send(`http://127.0.0.1:${port}/hook`, "{}", {})).toMatchObject({ outcome: "failed", statusCode: 302, error: "HTTP 302 (redirects are not followed)" });
  });

  it("a 500 is a failed attempt with the status and the excerpt", async () => {
    handler = (_q, res) => res.writeHead(500).end("boom");
    expect(await allowed.send(`http://127.0.0.1:${port}/hook`, "{}", {})).toMatchObject({ outcome: "failed", statusCode: 500, excerpt: "boom", error: "HTTP 500" });
  });

  it("times out a receiver that never answers", async () => {
    handler = () => undefined;
    const r = await allowed.send(`http://127.0.0.1:${port}/slow`, "{}", {});
    expect(r.outcome).toBe("failed");
    expect(r.error).toMatch(/timed out after 500 ms/);
    expect(r.latencyMs).toBeGreaterThanOrEqual(450);
  });

  it("refuses private literals and names resolving to loopback, without connecting", async () => {
    handler = (_q, res) => res.end();
    const before = hits;
    for (const url of ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]:1/", "http://[::ffff:127.0.0.1]:1/", `http://127.0.0.1:${port}/`, `http://localhost:${port}/hook`, "http://metadata.google.internal/"]) {
      const r = await strict.send(url, "{}", {});
      expect(r.outcome, url).toBe("blocked");
      expect(r.error, url).toMatch(/^blocked: /);
    }
    expect(hits).toBe(before);
  });

  it("a connection failure is a failed attempt", async () => {
    const r = await allowed.send("http://127.0.0.1:1/", "{}", {});
    expect(r).toMatchObject({ outcome: "failed", statusCode: null });
    expect(r.error).toBeTruthy();
  });
});
