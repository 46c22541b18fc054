import { Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import type { ApiKeyEntity } from "../../db/entities/api-key.entity";
import { microsToUsd } from "../../common/money";
import { viewerOf, type GraphQLContext } from "../context";
import { ApiKey, ApiKeyStatus, ApiKeyUsage, User } from "../types/user.type";

/** The GraphQL view of a key: never its hash. */
export const toApiKey = (k: ApiKeyEntity): ApiKey => ({
  id: k.id, userId: k.userId, label: k.label, prefix: k.prefix, createdAt: k.createdAt, revokedAt: k.revokedAt, expiresAt: k.expiresAt,
  status: k.revokedAt ? ApiKeyStatus.REVOKED : k.expiresAt && k.expiresAt.getTime() <= Date.now() ? ApiKeyStatus.EXPIRED : ApiKeyStatus.ACTIVE,
  budgetUsd: k.budgetMicros == null ? null : microsToUsd(k.budgetMicros),
  allowedModels: k.allowedModels, rateLimitPerMinute: k.rateLimitPerMinute,
});

@Resolver(() => User)
export class MeResolver {
  @Query(() => User, { description: "The user behind the API key" })
  async me(@Ctx() ctx: GraphQLContext): Promise<User> {
    const v = viewerOf(ctx);
    const u = await ctx.loaders.user.load(v.userId);
    return u as unknown as User;
  }

  @FieldResolver(() => [ApiKey], { description: "Your API keys (admins: also visible for other users)" })
  async apiKeys(@Root() user: User, @Ctx() ctx: GraphQLContext): Promise<ApiKey[]> {
    const v = viewerOf(ctx);
    if (v.userId !== user.id && v.role !== "ADMIN") return [];
    return (await ctx.services.apiKeys.listKeys(user.id)).map(toApiKey);
  }

  @FieldResolver(() => Boolean, { description: "An admin disabled the user: every key of it is refused" })
  disabled(@Root() user: { disabledAt?: Date | null }): boolean {
    return user.disabledAt != null;
  }
}

/** A key's own budget use: only keys that reach the client already (their owner's, or an admin's view). */
@Resolver(() => ApiKey)
export class ApiKeyFieldsResolver {
  @FieldResolver(() => ApiKeyUsage, { nullable: true, description: "This period's spend under the key's own budget; null when the key has none (its spend counts only toward its user's quota)" })
  async usage(@Root() key: ApiKey, @Ctx() ctx: GraphQLContext): Promise<ApiKeyUsage | null> {
    if (key.budgetUsd === null) return null;
    const u = await ctx.services.quotas.keyUsage(key.id);
    const period = u ?? { ...ctx.services.quotas.currentPeriod(), limitMicros: null, spentMicros: 0, reservedMicros: 0, requests: 0 };
    const limitUsd = period.limitMicros === null ? key.budgetUsd : microsToUsd(period.limitMicros);
    const spentUsd = microsToUsd(period.spentMicros);
    const reservedUsd = microsToUsd(period.reservedMicros);
    return { limitUsd, spentUsd, reservedUsd, remainingUsd: Math.max(0, limitUsd - spentUsd - reservedUsd), requests: period.requests, periodStart: period.periodStart, periodEnd: period.periodEnd };
  }
}
