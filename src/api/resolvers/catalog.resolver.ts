import { Arg, Ctx, Query, Resolver } from "type-graphql";
import { microsToUsd } from "../../common/money";
import type { GenerationProvider, ModelInfo } from "../../providers/contract";
import { viewerOf, type GraphQLContext } from "../context";
import { Model, Provider } from "../types/catalog.type";
import { Modality } from "../types/enums";

const usd = (m?: number) => (m === undefined ? undefined : microsToUsd(m));

export function toModel(m: ModelInfo): Model {
  const p = m.pricing;
  return {
    id: m.id, provider: m.provider, name: m.name, modality: m.modality as Modality, description: m.description,
    pricing: { inputPer1kTokensUsd: usd(p.inputPer1kTokens), outputPer1kTokensUsd: usd(p.outputPer1kTokens), perImageUsd: usd(p.perImage), perSecondUsd: usd(p.perSecond) },
  };
}

export function toProvider(p: GenerationProvider): Provider {
  return {
    id: p.id, name: p.displayName, simulated: p.simulated,
    modalities: [...new Set(p.models.map((m) => m.modality as Modality))],
    models: p.models.map(toModel),
  };
}

@Resolver()
export class CatalogResolver {
  @Query(() => [Provider])
  providers(@Ctx() ctx: GraphQLContext): Provider[] {
    viewerOf(ctx);
    return ctx.services.registry.listProviders().map(toProvider);
  }

  @Query(() => [Model])
  models(@Ctx() ctx: GraphQLContext, @Arg("modality", () => Modality, { nullable: true }) modality?: Modality): Model[] {
    viewerOf(ctx);
    return ctx.services.registry.listModels(modality ?? undefined).map(toModel);
  }
}
