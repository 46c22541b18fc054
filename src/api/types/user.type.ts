import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Role, Tier } from "./enums";

export enum ApiKeyStatus { ACTIVE = "ACTIVE", EXPIRED = "EXPIRED", REVOKED = "REVOKED" }
registerEnumType(ApiKeyStatus, { name: "ApiKeyStatus", description: "Whether a key is accepted now (a rotated key with overlap is ACTIVE until its expiresAt)" });

@ObjectType({ description: "What a key with its own budget has used this quota period" })
export class ApiKeyUsage {
  @Field(() => Float, { description: "The key's budget for this period (USD)" }) limitUsd: number;
  @Field(() => Float) spentUsd: number;
  @Field(() => Float, { description: "Held by generations admitted under the key that have not finished" }) reservedUsd: number;
  @Field(() => Float) remainingUsd: number;
  @Field(() => Int, { description: "Generations admitted under the key this period" }) requests: number;
  @Field() periodStart: Date;
  @Field() periodEnd: Date;
}

@ObjectType({ description: "An API key; the secret itself is shown only once, when created" })
export class ApiKey {
  @Field(() => ID) id: string;
  @Field(() => ID, { description: "Its owner" }) userId: string;
  @Field(() => String, { nullable: true }) label: string | null;
  @Field({ description: "Public, non-secret prefix of the key (sb_<prefix>_…)" }) prefix: string;
  @Field(() => ApiKeyStatus) status: ApiKeyStatus;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) revokedAt: Date | null;
  @Field(() => Date, { nullable: true, description: "Refused from this instant on (set at creation, or by rotateApiKey's overlap); null = never" })
  expiresAt: Date | null;
  @Field(() => Float, { nullable: true, description: "This key's own budget per quota period (USD), on top of its user's; null = only the user's" })
  budgetUsd: number | null;
  @Field(() => [String], { nullable: true, description: "Models (ids, aliases or auto) this key may use; null = any its user may" })
  allowedModels: string[] | null;
  @Field(() => Int, { nullable: true, description: "Requests per minute for this key, across nodes; null = only its user's limits" })
  rateLimitPerMinute: number | null;
}

@ObjectType()
export class User {
  @Field(() => ID) id: string;
  @Field() email: string;
  @Field(() => Role) role: Role;
  @Field(() => Tier) tier: Tier;
  @Field() createdAt: Date;
  // disabled: a field resolver (MeResolver), from disabledAt.
  @Field(() => Date, { nullable: true }) disabledAt: Date | null;
}
