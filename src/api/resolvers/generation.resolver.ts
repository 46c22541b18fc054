import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { microsToUsd } from "../../common/money";
import type { GenerationEntity } from "../../db/entities/generation.entity";
import { viewerOf, type GraphQLContext } from "../context";
import { CreateGenerationInput } from "../inputs/create-generation.input";
import { GenerationFilter } from "../inputs/generation-filter.input";
import { CostEstimate } from "../types/catalog.type";
import { Generation, GenerationConnection } from "../types/generation.type";
import { candidatePricing } from "./catalog.resolver";

@Resolver(() => Generation)
export class GenerationResolver {
  @Query(() => Generation, { nullable: true, description: "One of your generations (admins: any). Unknown or foreign ids are NOT_FOUND." })
  generation(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<GenerationEntity> {
    return ctx.services.generations.get(viewerOf(ctx), id);
  }

  @Query(() => GenerationConnection, { description: "Your generations, newest first (cursor pagination)" })
  generations(
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
    @Arg("filter", () => GenerationFilter, { nullable: true }) filter?: GenerationFilter,
  ) {
    return ctx.services.generations.list(viewerOf(ctx), first ?? undefined, after ?? undefined, filter ?? {});
  }

  @Query(() => CostEstimate, { description: "The worst-case cost of a request, without creating it" })
  estimateCost(@Arg("input", () => CreateGenerationInput) input: CreateGenerationInput, @Ctx() ctx: GraphQLContext): CostEstimate {
    const v = viewerOf(ctx);
    const e = ctx.services.generations.estimate(input, v.tier, v.keyLimits?.allowedModels);
    return {
      estimatedCostUsd: microsToUsd(e.costMicros), model: e.model, provider: e.provider, strategy: e.strategy,
      candidates: e.candidates.map((c) => ({ model: c.model, provider: c.provider, estimatedCostUsd: microsToUsd(c.costMicros), ...c.usage, ...candidatePricing(ctx, c.model) })),
      unpriced: e.candidates.some((c) => candidatePricing(ctx, c.model).unpriced),
    };
  }

  @Mutation(() => Generation, { description: "Queue a generation. With `wait`, returns once it is terminal or the wait ends." })
  createGeneration(@Arg("input", () => CreateGenerationInput) input: CreateGenerationInput, @Ctx() ctx: GraphQLContext): Promise<GenerationEntity> {
    return ctx.services.generations.create(viewerOf(ctx), input);
  }

  @Mutation(() => Generation, { description: "Cancel a queued or running generation. A terminal one is a CONFLICT error." })
  cancelGeneration(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<GenerationEntity> {
    return ctx.services.generations.cancel(viewerOf(ctx), id);
  }
}
