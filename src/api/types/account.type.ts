import { ArrayMaxSize, ArrayMinSize, IsOptional, Length, Max, MaxLength, Min, IsInt } from "class-validator";
import { ArgsType, Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import { MAX_USD } from "../../common/money";
import { MAX_ALLOWED_MODELS, MAX_RATE_LIMIT_PER_MINUTE } from "../../domain/auth/account.service";
import { PageInfo } from "./generation.type";
import { Role, Tier } from "./enums";
import { ApiKey, User } from "./user.type";

@ObjectType({ description: "A new user and its first API key; the secret is shown only this once" })
export class CreatedUser {
  @Field(() => User) user: User;
  @Field(() => ApiKey) apiKey: ApiKey;
  @Field({ description: "The whole key (sb_…): store it now, it is never shown again" }) secret: string;
}

@ObjectType({ description: "A new API key; the secret is shown only this once" })
export class CreatedApiKey {
  @Field(() => ApiKey) apiKey: ApiKey;
  @Field({ description: "The whole key (sb_…): store it now, it is never shown again" }) secret: string;
}

@ObjectType({ description: "The replacement key and the old one (REVOKED, or ACTIVE until its expiresAt when rotated with overlap)" })
export class RotatedApiKey {
  @Field(() => ApiKey) apiKey: ApiKey;
  @Field({ description: "The new key's secret, shown only this once" }) secret: string;
  @Field(() => ApiKey) previous: ApiKey;
}

@ObjectType()
export class UserEdge {
  @Field() cursor: string;
  @Field(() => User) node: User;
}

@ObjectType()
export class UserConnection {
  @Field(() => [UserEdge]) edges: UserEdge[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

@InputType()
export class UserFilter {
  @Field(() => Role, { nullable: true }) role?: Role;
  @Field(() => Tier, { nullable: true }) tier?: Tier;
  @Field(() => String, { nullable: true, description: "Case-insensitive part of the email" }) @IsOptional() @MaxLength(320) emailContains?: string;
  @Field(() => Boolean, { nullable: true }) disabled?: boolean;
}

@ArgsType()
export class CreateApiKeyArgs {
  @Field(() => ID, { nullable: true, description: "Admins: create it for this user (default: yourself)" }) userId?: string;
  @Field(() => String, { nullable: true }) @IsOptional() @Length(1, 200) label?: string;
  @Field(() => Date, { nullable: true, description: "Refused from this instant on (must be in the future)" }) expiresAt?: Date;
  @Field(() => Float, { nullable: true, description: "This key's budget per quota period (USD), on top of its user's" })
  @IsOptional() @Min(0) @Max(MAX_USD) budgetUsd?: number;
  @Field(() => [String], { nullable: true, description: "Models (ids, aliases or auto) this key may use" })
  @IsOptional() @ArrayMinSize(1) @ArrayMaxSize(MAX_ALLOWED_MODELS) @Length(1, 200, { each: true }) allowedModels?: string[];
  @Field(() => Int, { nullable: true, description: "Requests per minute for this key, across nodes" })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_RATE_LIMIT_PER_MINUTE) rateLimitPerMinute?: number;
}
