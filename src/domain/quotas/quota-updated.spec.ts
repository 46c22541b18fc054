import { describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import { systemClock } from "../../common/clock";
import { testConfig } from "../../config/config";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { QuotaService } from "./quota.service";

/** QuotaService's quotaUpdated notices, with a bus that records what is published (no statement runs here). */
function harness() {
  const published: { topic: string; id?: string; payload: unknown }[] = [];
  const bus = { publish: async (topic: string, id: string | undefined, payload: unknown) => void published.push({ topic, id, payload }) } as unknown as EventBus;
  const quotas = new QuotaService({} as DataSource, bus, systemClock, testConfig().quotas);
  const warned: string[] = [];
  quotas.onWarning((u) => warned.push(u));
  return { quotas, published, warned };
}

const turn = () => new Promise((r) => setImmediate(r));

describe("QuotaService.changed: quotaUpdated once per user per event-loop turn", () => {
  it("folds one turn's moves of a user into one publish, a warning among them kept; other users and later turns get their own", async () => {
    const h = harness();
    h.quotas.changed("u1", false);
    h.quotas.changed("u1", true);
    h.quotas.changed("u1", false);
    h.quotas.changed("u2", false);
    expect(h.published).toEqual([]); // not before the turn ends
    expect(h.warned).toEqual(["u1"]); // the warning hooks run at once, once per crossing
    await turn();
    expect(h.published).toEqual([
      { topic: Topic.QUOTA_UPDATED, id: "u1", payload: { userId: "u1", warning: true } },
      { topic: Topic.QUOTA_UPDATED, id: "u2", payload: { userId: "u2", warning: false } },
    ]);
    h.quotas.changed("u1", false);
    await turn();
    expect(h.published.slice(2)).toEqual([{ topic: Topic.QUOTA_UPDATED, id: "u1", payload: { userId: "u1", warning: false } }]);
  });
});
