import { Field, ID, ObjectType } from "type-graphql";
import { Role, Tier } from "./enums";

@ObjectType({ description: "An API key; the secret itself is shown only once, when created" })
export class ApiKey {
  @Field(() => ID) id: string;
  @Field(() => String, { nullable: true }) label: string | null;
  @Field({ description: "Public, non-secret prefix of the key (sb_<prefix>_…)" }) prefix: string;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) revokedAt: Date | null;
}

@ObjectType()
export class User {
  @Field(() => ID) id: string;
  @Field() email: string;
  @Field(() => Role) role: Role;
  @Field(() => Tier) tier: Tier;
  @Field() createdAt: Date;
}
