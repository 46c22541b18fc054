import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { BadUserInputError, ForbiddenError } from "../../common/errors";
import { isAdmin } from "../../domain/viewer";
import { viewerOf, type GraphQLContext } from "../context";
import { CacheStats } from "../types/cache.type";

@Resolver()
export class CacheResolver {
  @Query(() => CacheStats, { description: "Admin: exact-cache hits, misses and writes" })
  async cacheStats(@Ctx() ctx: GraphQLContext): Promise<CacheStats> {
    if (!isAdmin(viewerOf(ctx))) throw new ForbiddenError("Only admins can read cache statistics");
    const s = await ctx.services.cache.stats();
    return { ...s, hitRate: s.hits + s.misses ? s.hits / (s.hits + s.misses) : 0 };
  }

  @Mutation(() => Int, { description: "Admin: delete exact and semantic cache entries produced by a generation, for a model, or in a scope (a user's, or shared). Returns how many." })
  async invalidateCache(
    @Ctx() ctx: GraphQLContext,
    @Arg("generationId", () => ID, { nullable: true }) generationId?: string,
    @Arg("model", () => String, { nullable: true }) model?: string,
    @Arg("userId", () => ID, { nullable: true }) userId?: string,
    @Arg("shared", () => Boolean, { nullable: true }) shared?: boolean,
  ): Promise<number> {
    if (!isAdmin(viewerOf(ctx))) throw new ForbiddenError("Only admins can invalidate the cache");
    if (!generationId && !model && !userId && !shared) throw new BadUserInputError("give generationId, model, userId or shared: true", { field: "generationId" });
    const scope = shared ? "shared" : userId ? `user:${userId}` : undefined;
    const by = { generationId: generationId ?? undefined, model: model ?? undefined, scope };
    return (await ctx.services.cache.invalidate(by)) + (await ctx.services.semantic.invalidate(by));
  }
}
