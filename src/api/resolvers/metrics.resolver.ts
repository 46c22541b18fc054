import { Arg, Ctx, ID, Query, Resolver } from "type-graphql";
import { microsToUsd } from "../../common/money";
import type { MetricsGroupView, MetricsStats as StatsView, MetricsView } from "../../domain/analytics/metrics-view";
import { viewerOf, type GraphQLContext } from "../context";
import { Metrics, MetricsGroup, MetricsGroupBy, MetricsInterval, MetricsSource, MetricsStats } from "../types/metrics.type";

const toStats = (s: StatsView): MetricsStats => {
  const { costMicros, ...rest } = s;
  return { ...rest, costUsd: microsToUsd(costMicros) };
};
const toGroup = (g: MetricsGroupView): MetricsGroup => ({ key: g.key, stats: toStats(g.stats) });

export function toMetrics(m: MetricsView): Metrics {
  return {
    from: m.from, to: m.to, userId: m.userId, groupBy: m.groupBy as MetricsGroupBy | null,
    source: m.source as MetricsSource, exactPercentiles: m.exactPercentiles, rolledUpTo: m.rolledUpTo,
    total: toStats(m.total), groups: m.groups.map(toGroup), interval: m.interval as MetricsInterval,
    series: m.series.map((p) => ({ at: p.at, stats: toStats(p.stats) })),
    topModelsByUse: m.topModelsByUse.map(toGroup), topModelsByCost: m.topModelsByCost.map(toGroup),
  };
}

@Resolver()
export class MetricsResolver {
  @Query(() => Metrics, {
    description: "Analytics over generations created in [from, to) (default: the last 24 h; at most 400 days). Your own; admins: everyone's, or one user's with userId",
  })
  async metrics(
    @Ctx() ctx: GraphQLContext,
    @Arg("from", () => Date, { nullable: true }) from?: Date | null,
    @Arg("to", () => Date, { nullable: true }) to?: Date | null,
    @Arg("groupBy", () => MetricsGroupBy, { nullable: true }) groupBy?: MetricsGroupBy | null,
    @Arg("userId", () => ID, { nullable: true }) userId?: string | null,
  ): Promise<Metrics> {
    return toMetrics(await ctx.services.analytics.metrics(viewerOf(ctx), { from, to, groupBy, userId }));
  }
}
