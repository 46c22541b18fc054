import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum MetricsGroupBy { PROVIDER = "PROVIDER", MODEL = "MODEL", USER = "USER", HOUR = "HOUR", DAY = "DAY" }
export enum MetricsSource { RAW = "RAW", ROLLUP = "ROLLUP" }
export enum MetricsInterval { HOUR = "HOUR", DAY = "DAY" }

registerEnumType(MetricsGroupBy, {
  name: "MetricsGroupBy",
  description: "PROVIDER, MODEL (the route that served it, provider/model; else as requested), USER (id), HOUR or DAY (UTC bucket start, ISO 8601)",
});
registerEnumType(MetricsSource, {
  name: "MetricsSource",
  description: "RAW: computed from generations (exact percentiles). ROLLUP: whole hours from hourly rollups, the rest from generations; percentiles from merged histograms",
});
registerEnumType(MetricsInterval, { name: "MetricsInterval" });

@ObjectType({ description: "Percentiles in milliseconds (null when there are no samples)" })
export class MetricsPercentiles {
  @Field(() => Int, { description: "How many values they are over" }) samples: number;
  @Field(() => Float, { nullable: true }) p50: number | null;
  @Field(() => Float, { nullable: true }) p95: number | null;
  @Field(() => Float, { nullable: true }) p99: number | null;
}

@ObjectType()
export class MetricsErrorCount {
  @Field({ description: "The generation's error code (UNKNOWN when it has none)" }) code: string;
  @Field(() => Int) count: number;
}

@ObjectType({ description: "Figures over the generations created in a range (and group)" })
export class MetricsStats {
  @Field(() => Int) requests: number;
  @Field(() => Int) succeeded: number;
  @Field(() => Int) failed: number;
  @Field(() => Int) cancelled: number;
  @Field(() => Int, { description: "QUEUED or RUNNING" }) inProgress: number;
  @Field(() => Float, { description: "succeeded / (succeeded + failed + cancelled); 0 when none finished" }) successRate: number;
  @Field(() => Float, { description: "failed / (succeeded + failed + cancelled)" }) failureRate: number;
  @Field(() => [MetricsErrorCount], { description: "FAILED generations by error code, most frequent first" }) errors: MetricsErrorCount[];
  @Field(() => Int, { description: "Upstream attempts that made a call" }) attempts: number;
  @Field(() => Int, { description: "Attempts beyond each generation's first" }) retries: number;
  @Field(() => Int) cacheHits: number;
  @Field(() => Float, { description: "cacheHits / requests" }) cacheHitRate: number;
  @Field(() => MetricsPercentiles, { description: "completed − started, over generations served upstream (not cache hits) that started and ended" }) latencyMs: MetricsPercentiles;
  @Field(() => MetricsPercentiles, { description: "started − created, over generations served upstream that started" }) queueWaitMs: MetricsPercentiles;
  @Field(() => Float) costUsd: number;
}

@ObjectType()
export class MetricsGroup {
  @Field(() => String, { nullable: true, description: "Provider, model, user id or bucket start; null for the total and for generations without a provider" }) key: string | null;
  @Field(() => MetricsStats) stats: MetricsStats;
}

@ObjectType()
export class MetricsPoint {
  @Field({ description: "Bucket start (UTC)" }) at: Date;
  @Field(() => MetricsStats) stats: MetricsStats;
}

@ObjectType({ description: "Analytics over generation history" })
export class Metrics {
  @Field() from: Date;
  @Field() to: Date;
  @Field(() => ID, { nullable: true, description: "The user the figures cover; null: every user (admins)" }) userId: string | null;
  @Field(() => MetricsGroupBy, { nullable: true }) groupBy: MetricsGroupBy | null;
  @Field(() => MetricsSource) source: MetricsSource;
  @Field({ description: "true when percentiles are exact (percentile_cont over raw rows); false when read from histograms" }) exactPercentiles: boolean;
  @Field(() => Date, { nullable: true, description: "ROLLUP: hours before this came from rollups, later rows from generations" }) rolledUpTo: Date | null;
  @Field(() => MetricsStats) total: MetricsStats;
  @Field(() => [MetricsGroup], { description: "One per key of groupBy (busiest first; HOUR/DAY in time order); without groupBy, one group with key null" }) groups: MetricsGroup[];
  @Field(() => MetricsInterval, { description: "HOUR for ranges up to 7 days, else DAY" }) interval: MetricsInterval;
  @Field(() => [MetricsPoint], { description: "Every bucket of the range, empty ones included, for charts" }) series: MetricsPoint[];
  @Field(() => [MetricsGroup], { description: "Up to 10 models by requests" }) topModelsByUse: MetricsGroup[];
  @Field(() => [MetricsGroup], { description: "Up to 10 models by cost" }) topModelsByCost: MetricsGroup[];
}
