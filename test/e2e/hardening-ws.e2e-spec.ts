/**
 * A subscriber that stops reading must not grow the server's memory without limit (issue 13,
 * defect 8): past WS_MAX_BUFFERED_BYTES unsent, its socket is closed with 1013; a reading
 * subscriber of the same events is unaffected.
 */
import type { Socket } from "node:net";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Topic } from "../../src/realtime/topics";
import { startTestApp, type TestApp } from "../helpers/test-app";

const LIMIT = 256 * 1024;
const EVENTS = 1500;
const DELTA = "x".repeat(16 * 1024); // 1,500 x 16 KB = 24 MB: far past the limit and the kernel's socket buffers

/** A graphql-transport-ws socket subscribed to `myGenerations`; counts the `next` messages it reads. */
async function subscriber(t: TestApp, key: string) {
  const ws = new WebSocket(t.wsUrl, "graphql-transport-ws");
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${key}` } }));
  await new Promise((r) => ws.once("message", r)); // connection_ack
  const s = { ws, received: 0, closed: new Promise<[number, string]>((r) => ws.once("close", (code, reason) => r([code, reason.toString()]))) };
  ws.on("message", (m) => {
    if (JSON.parse(String(m)).type === "next") s.received++;
  });
  ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: "subscription { myGenerations { seq delta } }" } }));
  return s;
}

describe("hardening: a slow WebSocket consumer is cut off, not buffered without limit", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ limits: { wsMaxBufferedBytes: LIMIT } }, { workers: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("closes a socket that stops reading with 1013 once it holds more than WS_MAX_BUFFERED_BYTES; a reading one gets every event", async () => {
    const user = await t.createUser();
    const slow = await subscriber(t, user.key);
    const fast = await subscriber(t, user.key);
    // graphql-ws gives no "subscribed" acknowledgement: publish probes until both have seen one.
    const probe = (seq: number) => t.app.services.bus.publish(Topic.USER_GENERATION_EVENT, user.id, {
      seq, type: "DELTA", generationId: "00000000-0000-0000-0000-000000000000", userId: user.id, at: new Date().toISOString(), delta: "", generation: {} as never,
    });
    for (let i = 0; slow.received === 0 || fast.received === 0; i++) {
      expect(i).toBeLessThan(100);
      await probe(0);
      await new Promise((r) => setTimeout(r, 50));
    }
    const baseline = fast.received;

    (slow.ws as unknown as { _socket: Socket })._socket.pause(); // stops reading: the kernel buffers fill, then the server's
    for (let seq = 1; seq <= EVENTS; seq++)
      await t.app.services.bus.publish(Topic.USER_GENERATION_EVENT, user.id, {
        seq, type: "DELTA", generationId: "00000000-0000-0000-0000-000000000000", userId: user.id, at: new Date().toISOString(), delta: DELTA, generation: {} as never,
      });
    for (let i = 0; fast.received < baseline + EVENTS; i++) {
      expect(i, `fast subscriber got ${fast.received - baseline} of ${EVENTS}`).toBeLessThan(600);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The server handed the slow socket the same events by now; let it read what was sent before the close.
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    const [code, reason] = await Promise.race([
      slow.closed,
      new Promise<never>((_, j) => setTimeout(() => j(new Error(`the slow socket was never closed (read ${slow.received - baseline} of ${EVENTS} events)`)), 30_000)),
    ]);
    expect(code).toBe(1013);
    expect(reason).toMatch(/slow consumer/i);
    expect(slow.received - baseline).toBeLessThan(EVENTS);
    expect(fast.ws.readyState).toBe(WebSocket.OPEN);
    fast.ws.close();
  }, 90_000);
});
