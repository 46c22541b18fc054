import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { ProviderHealthStatus, ProviderKey } from "./catalog.type";

export enum HealthStatus { OK = "OK", DEGRADED = "DEGRADED", DOWN = "DOWN" }
registerEnumType(HealthStatus, { name: "HealthStatus", description: "DOWN: Postgres or Redis unreachable; DEGRADED: a provider is down or has no usable key" });

@ObjectType({ description: "One dependency's check, bounded at 2 s" })
export class DependencyHealth {
  @Field() ok: boolean;
  @Field(() => Float, { nullable: true, description: "Round trip of the check" }) latencyMs: number | null;
  @Field(() => String, { nullable: true, description: "Why it failed (admins only)" }) message: string | null;
}

@ObjectType({ description: "Jobs in the generations queue" })
export class QueueHealth {
  @Field(() => Int) waiting: number;
  @Field(() => Int) active: number;
  @Field(() => Int) delayed: number;
}

@ObjectType({ description: "A provider's API-key pool at a glance (admins)" })
export class KeyPoolSummary {
  @Field(() => Int) total: number;
  @Field(() => Int) active: number;
  @Field(() => Int) coolingDown: number;
  @Field(() => Int) disabled: number;
  @Field(() => Int, { description: "Calls in flight on all its keys, across workers" }) inFlight: number;
  @Field(() => Float, { nullable: true, description: "Mean health of the keys not disabled, 0..1" }) health: number | null;
  @Field(() => [ProviderKey]) keys: ProviderKey[];
}

@ObjectType({ description: "A configured provider: its last health check and (admins) its key pool" })
export class ProviderStatus {
  @Field(() => ID) id: string;
  @Field() name: string;
  @Field(() => ProviderHealthStatus) status: ProviderHealthStatus;
  @Field(() => Date, { nullable: true }) checkedAt: Date | null;
  @Field(() => Int, { nullable: true }) latencyMs: number | null;
  @Field(() => String, { nullable: true, description: "Admins only" }) message: string | null;
  @Field(() => KeyPoolSummary, { nullable: true, description: "Admins only; null for providers without keys" }) keyPool: KeyPoolSummary | null;
}

@ObjectType({ description: "The system's health as this API node sees it now" })
export class Health {
  @Field(() => HealthStatus) status: HealthStatus;
  @Field() checkedAt: Date;
  @Field(() => DependencyHealth) postgres: DependencyHealth;
  @Field(() => DependencyHealth) redis: DependencyHealth;
  @Field(() => QueueHealth, { nullable: true, description: "Null when Redis could not answer" }) queue: QueueHealth | null;
  @Field(() => [ProviderStatus]) providers: ProviderStatus[];
}
