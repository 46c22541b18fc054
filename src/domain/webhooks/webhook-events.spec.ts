import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../config/config";
import type { GenerationEntity } from "../../db/entities/generation.entity";
import { generationBody, quotaWarningBody, webhookRetryDelayMs } from "./webhook-events";

describe("webhook config and backoff", () => {
  it("defaults: 8 attempts whose retries span about a day, 5 s timeout, nothing allow-listed, 4 in flight per endpoint and 8 per user, 2 s DNS", () => {
    const c = loadConfig({}).webhooks;
    expect(c).toEqual({ allowedHosts: [], maxAttempts: 8, backoffBaseMs: 340_000, timeoutMs: 5000, concurrency: 16, endpointConcurrency: 4, userConcurrency: 8, dnsTimeoutMs: 2000 });
    let total = 0;
    for (let failed = 1; failed < c.maxAttempts; failed++) total += webhookRetryDelayMs(failed, c.backoffBaseMs);
    expect(total / 3_600_000).toBeGreaterThan(23.5);
    expect(total / 3_600_000).toBeLessThan(24.5);
    expect([1, 2, 3].map((n) => webhookRetryDelayMs(n, 20))).toEqual([40, 80, 160]);
  });

  it("parses WEBHOOK_* variables and reports bad ones", () => {
    const c = loadConfig({ WEBHOOK_ALLOWED_HOSTS: " Hooks.Example.com, 127.0.0.1,10.0.0.0/8,[::1] ", WEBHOOK_MAX_ATTEMPTS: "3", WEBHOOK_BACKOFF_BASE_MS: "10", WEBHOOK_TIMEOUT_MS: "800",
      WEBHOOK_ENDPOINT_CONCURRENCY: "0", WEBHOOK_USER_CONCURRENCY: "3", WEBHOOK_DNS_TIMEOUT_MS: "500" });
    expect(c.webhooks).toMatchObject({ allowedHosts: ["hooks.example.com", "127.0.0.1", "10.0.0.0/8", "[::1]"], maxAttempts: 3, backoffBaseMs: 10, timeoutMs: 800, endpointConcurrency: 0, userConcurrency: 3, dnsTimeoutMs: 500 });
    expect(c.worker.timeouts).toEqual({}); // WEBHOOK_DNS_TIMEOUT_MS is not a provider's timeout
    try {
      loadConfig({ WEBHOOK_MAX_ATTEMPTS: "0", WEBHOOK_TIMEOUT_MS: "fast", WEBHOOK_ALLOWED_HOSTS: "http://x/y", WEBHOOK_ENDPOINT_CONCURRENCY: "-1", WEBHOOK_DNS_TIMEOUT_MS: "soon" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      for (const v of ["WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_TIMEOUT_MS", "WEBHOOK_ALLOWED_HOSTS", "WEBHOOK_ENDPOINT_CONCURRENCY", "WEBHOOK_DNS_TIMEOUT_MS"]) expect((err as Error).message).toContain(v);
    }
  });
});

describe("webhook bodies", () => {
  const at = new Date("2024-11-25T10:00:00Z");
  const g = {
    id: "g1", userId: "u1", status: "SUCCEEDED", modality: "IMAGE", model: "simulated/image", provider: "simulated", providerModel: "image",
    cached: false, costMicros: 2000, errorCode: null, errorMessage: null, createdAt: at, completedAt: at,
    output: { files: [{ key: "secret/blob/key.png", mimeType: "image/png", sizeBytes: 10, width: 64, height: 64 }], usage: { images: 1 } },
  } as unknown as GenerationEntity;

  it("a generation event: summary and output, no blob keys or internals", () => {
    const body = JSON.parse(generationBody("e1", "generation.succeeded", g, at));
    expect(body).toEqual({
      id: "e1", type: "generation.succeeded", createdAt: at.toISOString(),
      data: {
        generation: {
          id: "g1", status: "SUCCEEDED", modality: "IMAGE", model: "simulated/image", provider: "simulated", providerModel: "image", cached: false,
          costUsd: 0.002, error: null, createdAt: at.toISOString(), completedAt: at.toISOString(),
          output: { text: null, usage: { images: 1 }, finishReason: null, files: [{ mimeType: "image/png", sizeBytes: 10, width: 64, height: 64 }], embeddingDimensions: null },
        },
      },
    });
    expect(JSON.stringify(body)).not.toContain("secret/blob");
  });

  it("a quota warning: the figures in USD", () => {
    const body = JSON.parse(quotaWarningBody("e2", { userId: "u1", tier: "free", limitMicros: 5_000_000, spentMicros: 3_000_000, reservedMicros: 1_500_000, requests: 3, periodStart: at, periodEnd: at }, 0.8, at));
    expect(body.data.quota).toMatchObject({ userId: "u1", limitUsd: 5, spentUsd: 3, reservedUsd: 1.5, remainingUsd: 0.5, warnRatio: 0.8 });
  });
});
