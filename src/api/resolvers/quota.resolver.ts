import { Arg, Ctx, Float, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { microsToUsd } from "../../common/money";
import type { QuotaView } from "../../domain/quotas/quota.service";
import { Topic, type TopicPayloads } from "../../realtime/topics";
import { viewerOf, type GraphQLContext } from "../context";
import { Tier } from "../types/enums";
import { Quota, QuotaEvent, QuotaEventType } from "../types/quota.type";

export function toQuota(q: QuotaView): Quota {
  return {
    userId: q.userId, tier: q.tier as Tier, requests: q.requests, periodStart: q.periodStart, periodEnd: q.periodEnd,
    limitUsd: microsToUsd(q.limitMicros), spentUsd: microsToUsd(q.spentMicros), reservedUsd: microsToUsd(q.reservedMicros),
    remainingUsd: microsToUsd(Math.max(0, q.limitMicros - q.spentMicros - q.reservedMicros)),
  };
}

@Resolver()
export class QuotaResolver {
  @Query(() => Quota, { description: "Your budget this period (admins: any user's with userId)" })
  async quota(@Ctx() ctx: GraphQLContext, @Arg("userId", () => ID, { nullable: true }) userId?: string): Promise<Quota> {
    return toQuota(await ctx.services.quotas.get(viewerOf(ctx), userId ?? undefined));
  }

  @Mutation(() => Quota, { description: "Admin: a user's budget per period in USD (null: back to the tier default). Applies to the current period at once." })
  async setQuota(
    @Arg("userId", () => ID) userId: string,
    @Arg("limitUsd", () => Float, { nullable: true }) limitUsd: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Quota> {
    return toQuota(await ctx.services.quotas.setQuota(viewerOf(ctx), userId, limitUsd ?? null));
  }

  @Subscription(() => QuotaEvent, {
    description: "Your budget figures after every reservation, settlement and release",
    subscribe: async ({ context }) => {
      const ctx = context as GraphQLContext;
      return ctx.services.bus.iterate(Topic.QUOTA_UPDATED, viewerOf(ctx).userId);
    },
  })
  async quotaUpdated(@Root() p: TopicPayloads[Topic.QUOTA_UPDATED], @Ctx() ctx: GraphQLContext): Promise<QuotaEvent> {
    const q = await ctx.services.quotas.get(viewerOf(ctx), p.userId);
    return { type: p.warning ? QuotaEventType.QUOTA_WARNING : QuotaEventType.UPDATED, quota: toQuota(q) };
  }
}
