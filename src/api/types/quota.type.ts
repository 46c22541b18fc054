import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Tier } from "./enums";

@ObjectType({ description: "Your budget for the current period (USD). Reserved = worst-case cost of generations still in flight." })
export class Quota {
  @Field(() => ID) userId: string;
  @Field(() => Tier) tier: Tier;
  @Field(() => Float) limitUsd: number;
  @Field(() => Float) spentUsd: number;
  @Field(() => Float) reservedUsd: number;
  @Field(() => Float) remainingUsd: number;
  @Field(() => Int, { description: "Generations admitted this period" }) requests: number;
  @Field() periodStart: Date;
  @Field() periodEnd: Date;
}

export enum QuotaEventType {
  UPDATED = "UPDATED",
  QUOTA_WARNING = "QUOTA_WARNING",
}
registerEnumType(QuotaEventType, { name: "QuotaEventType" });

@ObjectType()
export class QuotaEvent {
  @Field(() => QuotaEventType, { description: "QUOTA_WARNING once per period when spent + reserved crosses the warning threshold" })
  type: QuotaEventType;
  @Field(() => Quota) quota: Quota;
}
