import { Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import { viewerOf, type GraphQLContext } from "../context";
import { ApiKey, User } from "../types/user.type";

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
    return ctx.services.apiKeys.listKeys(user.id);
  }
}
