import { Arg, Args, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { Tier as DomainTier } from "../../config/config";
import type { UserEntity } from "../../db/entities/user.entity";
import { viewerOf, type GraphQLContext } from "../context";
import { CreateApiKeyArgs, CreatedApiKey, CreatedUser, RotatedApiKey, UserConnection, UserFilter } from "../types/account.type";
import { Role, Tier } from "../types/enums";
import { ApiKey, User } from "../types/user.type";
import { toApiKey } from "./me.resolver";

const asUser = (u: UserEntity) => u as unknown as User;

/** Users (admins) and API keys (their owner, or an admin): thin over AccountService. */
@Resolver()
export class AccountResolver {
  @Mutation(() => CreatedUser, { description: "Admins: create a user and its first API key (the secret is in the answer, and nowhere else ever)" })
  async createUser(
    @Arg("email") email: string,
    @Arg("role", () => Role, { nullable: true, defaultValue: Role.USER }) role: Role,
    @Arg("tier", () => Tier, { nullable: true, defaultValue: Tier.FREE }) tier: Tier,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatedUser> {
    const v = viewerOf(ctx);
    const { user, key } = await ctx.services.accounts.createUser(v, email, role, tier as DomainTier);
    const [first] = await ctx.services.accounts.listKeys(v, user.id);
    return { user: asUser(user), apiKey: toApiKey(first), secret: key };
  }

  @Query(() => UserConnection, { description: "Admins: every user, oldest first (cursor pagination)" })
  async users(
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
    @Arg("filter", () => UserFilter, { nullable: true }) filter?: UserFilter,
  ): Promise<UserConnection> {
    const page = await ctx.services.accounts.users(viewerOf(ctx), first ?? undefined, after ?? undefined, {
      role: filter?.role, tier: filter?.tier as DomainTier | undefined, emailContains: filter?.emailContains ?? undefined, disabled: filter?.disabled ?? undefined,
    });
    return { edges: page.edges.map((e) => ({ cursor: e.cursor, node: asUser(e.node) })), pageInfo: page.pageInfo };
  }

  @Mutation(() => User, { description: "Admins: change a user's tier, or disable it (every key refused on every node at once, its sockets closed) or enable it again" })
  async updateUser(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
    @Arg("tier", () => Tier, { nullable: true }) tier?: Tier,
    @Arg("disabled", () => Boolean, { nullable: true }) disabled?: boolean,
  ): Promise<User> {
    return asUser(await ctx.services.accounts.updateUser(viewerOf(ctx), id, { tier: (tier ?? undefined) as DomainTier | undefined, disabled: disabled ?? undefined }));
  }

  @Mutation(() => CreatedApiKey, { description: "A new API key for yourself (admins: for userId), with optional limits of its own; the secret is shown only this once" })
  async createApiKey(@Args(() => CreateApiKeyArgs) args: CreateApiKeyArgs, @Ctx() ctx: GraphQLContext): Promise<CreatedApiKey> {
    const { key, entity } = await ctx.services.accounts.createKey(viewerOf(ctx), args);
    return { apiKey: toApiKey(entity), secret: key };
  }

  @Query(() => [ApiKey], { description: "Your API keys, oldest first (admins: userId's)" })
  async apiKeys(@Ctx() ctx: GraphQLContext, @Arg("userId", () => ID, { nullable: true }) userId?: string): Promise<ApiKey[]> {
    return (await ctx.services.accounts.listKeys(viewerOf(ctx), userId)).map(toApiKey);
  }

  @Mutation(() => ApiKey, { description: "Revoke one of your keys (admins: anyone's): refused on every node at once, its sockets closed" })
  async revokeApiKey(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ApiKey> {
    return toApiKey(await ctx.services.accounts.revokeKey(viewerOf(ctx), id));
  }

  @Mutation(() => RotatedApiKey, {
    description: "A replacement for one of your keys (same label and limits). The old key keeps working for overlapSeconds (0: revoked at once), then stops on every node and its sockets close",
  })
  async rotateApiKey(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
    @Arg("overlapSeconds", () => Int, { nullable: true, defaultValue: 0 }) overlapSeconds: number,
  ): Promise<RotatedApiKey> {
    const { key, entity, old } = await ctx.services.accounts.rotateKey(viewerOf(ctx), id, overlapSeconds ?? 0);
    return { apiKey: toApiKey(entity), secret: key, previous: toApiKey(old) };
  }
}
