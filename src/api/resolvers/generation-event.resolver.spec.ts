import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { NotFoundError } from "../../common/errors";
import type { Viewer } from "../../domain/viewer";
import type { Services } from "../services";
import { getForSubscription } from "./generation-event.resolver";

const OWNER = "00000000-0000-4000-8000-000000000001";
const OTHER = "00000000-0000-4000-8000-000000000002";
const GEN = "00000000-0000-4000-8000-0000000000aa";

/** generations.get as the service does it: the row, then the viewer's own check. */
function fakeServices() {
  const calls: Viewer[] = [];
  const generations = {
    async get(viewer: Viewer, id: string) {
      calls.push(viewer);
      if (viewer.userId !== OWNER && viewer.role !== "ADMIN") throw new NotFoundError("Generation", id);
      return { id, userId: OWNER, status: "QUEUED" };
    },
  };
  return { services: { generations } as unknown as Services, calls };
}
const viewer = (userId: string, over: Partial<Viewer> = {}): Viewer => ({ userId, role: "USER", tier: "free", apiKeyId: `key-${userId}`, requestId: Math.random().toString(), ...over });

describe("generationUpdated's subscribe-time read (getForSubscription)", () => {
  it("one read per viewer and generation among the subscriptions of one turn; another viewer gets its own check", async () => {
    const { services, calls } = fakeServices();
    const owner = [viewer(OWNER), viewer(OWNER), viewer(OWNER)];
    const other = viewer(OTHER);
    const admin = viewer(OTHER, { role: "ADMIN", apiKeyId: "key-admin" });
    const sameUserOtherKey = viewer(OWNER, { apiKeyId: "key-2" });
    const results = await Promise.allSettled([...owner, other, admin, sameUserOtherKey].map((v) => getForSubscription(services, v, GEN)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    // The owner's three subscriptions (one key) share a call; the other user, the admin and the owner's other key each have their own.
    expect(calls.map((v) => [v.userId, v.role, v.apiKeyId])).toEqual([
      [OWNER, "USER", `key-${OWNER}`], [OTHER, "USER", `key-${OTHER}`], [OTHER, "ADMIN", "key-admin"], [OWNER, "USER", "key-2"],
    ]);
    // A later turn reads again (nothing is cached past the turn).
    await getForSubscription(services, owner[0], GEN);
    expect(calls).toHaveLength(5);
  });
});
