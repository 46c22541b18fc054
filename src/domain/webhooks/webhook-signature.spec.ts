import { describe, expect, it } from "vitest";
import { verifyWebhook } from "../../../client/webhooks";
import { newSigningSecret, signatureHeader, signPayload } from "./webhook-signature";

describe("webhook signatures: signed here, verified by the client helper", () => {
  const secret = newSigningSecret();
  const body = JSON.stringify({ id: "e1", type: "generation.succeeded", data: { text: "héllo ✓" } });
  const t = 1_700_000_000;
  const at = (s: number) => s * 1000;

  it("verifies a fresh delivery, from the header string or the request headers", () => {
    const header = signatureHeader(secret, body, t);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhook({ body, signature: header, secret, now: at(t + 10) })).toEqual({ ok: true, timestamp: t });
    expect(verifyWebhook({ body: Buffer.from(body), headers: { "Switchboard-Signature": header }, secret, now: new Date(at(t)) }).ok).toBe(true);
    expect(verifyWebhook({ body, headers: new Headers({ "switchboard-signature": header }), secret, now: at(t) }).ok).toBe(true);
  });

  it("fails a tampered body, another secret, or a signature for another timestamp", () => {
    const header = signatureHeader(secret, body, t);
    expect(verifyWebhook({ body: body.replace("héllo", "hello"), signature: header, secret, now: at(t) })).toEqual({ ok: false, reason: "signature_mismatch" });
    expect(verifyWebhook({ body, signature: header, secret: newSigningSecret(), now: at(t) }).ok).toBe(false);
    const moved = `t=${t + 1},v1=${signPayload(secret, t, body)}`;
    expect(verifyWebhook({ body, signature: moved, secret, now: at(t) })).toEqual({ ok: false, reason: "signature_mismatch" });
  });

  it("rejects stale and far-future timestamps (default tolerance 300 s)", () => {
    const header = signatureHeader(secret, body, t);
    expect(verifyWebhook({ body, signature: header, secret, now: at(t + 300) }).ok).toBe(true);
    expect(verifyWebhook({ body, signature: header, secret, now: at(t + 301) })).toEqual({ ok: false, reason: "stale_timestamp" });
    expect(verifyWebhook({ body, signature: header, secret, now: at(t - 301) })).toEqual({ ok: false, reason: "stale_timestamp" });
    expect(verifyWebhook({ body, signature: header, secret, now: at(t + 3600), toleranceSeconds: 7200 }).ok).toBe(true);
  });

  it("rejects missing and malformed headers; accepts any matching v1 among several", () => {
    expect(verifyWebhook({ body, secret })).toEqual({ ok: false, reason: "missing_signature" });
    for (const bad of ["garbage", "t=abc,v1=00", `v1=${signPayload(secret, t, body)}`, `t=${t}`, `t=${t},v1=xyz`])
      expect(verifyWebhook({ body, signature: bad, secret, now: at(t) })).toEqual({ ok: false, reason: "malformed_signature" });
    const two = `t=${t},v1=${"0".repeat(64)},v1=${signPayload(secret, t, body)}`;
    expect(verifyWebhook({ body, signature: two, secret, now: at(t) }).ok).toBe(true);
  });
});
