import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { BadUserInputError, ForbiddenError, ServiceUnavailableError } from "../../common/errors";
import { microsToUsd } from "../../common/money";
import { isAdmin } from "../../domain/viewer";
import type { GenerationProvider, ModelInfo } from "../../providers/contract";
import { Topic, type TopicPayloads } from "../../realtime/topics";
import { viewerOf, type GraphQLContext } from "../context";
import { Alert, Model, ModelRefresh, ModelSource, OllamaModel, OllamaPullProgress, Provider, ProviderHealth, ProviderHealthStatus, ProviderKey, ProviderKeySource, ProviderKeyState, PricingSource } from "../types/catalog.type";
import { Modality } from "../types/enums";

const usd = (m?: number) => (m === undefined ? undefined : microsToUsd(m));

export function toModel(m: ModelInfo): Model {
  const p = m.pricing;
  return {
    id: m.id, provider: m.provider, name: m.name, modality: m.modality as Modality, description: m.description,
    pricing: {
      source: (m.pricingSource ?? "BUILT_IN") as PricingSource,
      inputPer1kTokensUsd: usd(p.inputPer1kTokens), outputPer1kTokensUsd: usd(p.outputPer1kTokens), perImageUsd: usd(p.perImage), perSecondUsd: usd(p.perSecond),
    },
    quality: m.quality ?? 0, contextTokens: m.contextTokens, maxOutputTokens: m.maxOutputTokens,
    source: (m.source ?? "BUILT_IN") as ModelSource, seenAt: m.seenAt ? new Date(m.seenAt) : null,
  };
}

/** estimateCost's per-candidate pricing flags (the candidate's catalog entry). */
export function candidatePricing(ctx: GraphQLContext, modelId: string): { pricingSource?: PricingSource; unpriced: boolean } {
  const m = ctx.services.registry.model(modelId);
  return { pricingSource: m?.pricingSource as PricingSource | undefined, unpriced: m?.pricingSource === "UNPRICED" };
}

export function toProvider(p: GenerationProvider, ctx: GraphQLContext): Provider {
  return {
    id: p.id, name: p.displayName, simulated: p.simulated,
    modalities: [...new Set(ctx.services.registry.modelsOf(p.id).map((m) => m.modality as Modality))],
    models: ctx.services.registry.modelsOf(p.id).map(toModel),
    kind: p.simulated ? "simulated" : ctx.services.providers.setup.defs[p.id]?.kind ?? "custom",
    configured: ctx.services.providers.configured(p.id),
  };
}

function admin(ctx: GraphQLContext, what: string): void {
  if (!isAdmin(viewerOf(ctx))) throw new ForbiddenError(`Only admins can ${what}`);
}

function knownProvider(ctx: GraphQLContext, id: string): GenerationProvider {
  const p = ctx.services.registry.provider(id);
  if (!p) throw new BadUserInputError(`unknown provider "${id}"; providers: ${ctx.services.registry.listProviders(true).map((x) => x.id).join(", ")}`, { field: "provider" });
  if (p.simulated || ctx.services.providers.setup.defs[id]?.requiresKey === false)
    throw new BadUserInputError(`provider ${id} takes no API keys`, { field: "provider" });
  return p;
}

function ollama(ctx: GraphQLContext) {
  const o = ctx.services.providers.setup.ollama;
  if (!o || !ctx.services.providers.configured("ollama")) throw new ServiceUnavailableError("Ollama is not configured: set OLLAMA_BASE_URL");
  return o;
}

@Resolver(() => Provider)
export class CatalogResolver {
  @Query(() => [Provider], { description: "Configured providers (admins: every known one with all: true)" })
  providers(@Ctx() ctx: GraphQLContext, @Arg("all", () => Boolean, { defaultValue: false }) all: boolean): Provider[] {
    if (all) admin(ctx, "list unconfigured providers");
    else viewerOf(ctx);
    return ctx.services.registry.listProviders(all).map((p) => toProvider(p, ctx));
  }

  @Query(() => [Model], { description: "Models of configured providers your tier may use: built-in, providers-file and discovered ones (`source`, `seenAt`, `pricing.source`)" })
  models(@Ctx() ctx: GraphQLContext, @Arg("modality", () => Modality, { nullable: true }) modality?: Modality): Model[] {
    const v = viewerOf(ctx);
    return ctx.services.router.available(modality ?? undefined, v.tier, v.keyLimits?.allowedModels).map(toModel);
  }

  @Mutation(() => ModelRefresh, { description: "Admin: read a provider's own model list now (OpenAI-compatible /models, OpenRouter, Ollama tags, Anthropic); every node sees the result" })
  async refreshModels(@Arg("provider", () => ID) provider: string, @Ctx() ctx: GraphQLContext): Promise<ModelRefresh> {
    admin(ctx, "refresh model lists");
    const p = ctx.services.registry.provider(provider);
    if (!p) throw new BadUserInputError(`unknown provider "${provider}"; providers: ${ctx.services.registry.listProviders(true).map((x) => x.id).join(", ")}`, { field: "provider" });
    if (p.simulated || !p.listModels)
      throw new BadUserInputError(`provider ${provider} has no model list to read; listable: ${ctx.services.catalog.listable().map((x) => x.id).join(", ") || "none configured"}`, { field: "provider" });
    const r = await ctx.services.catalog.refresh(provider);
    return { provider, added: r.added, removed: r.removed, models: r.models.map(toModel) };
  }

  @Query(() => [String], { description: 'Aliases usable as `model` (e.g. "fast-text"), each an ordered fallback chain' })
  modelAliases(@Ctx() ctx: GraphQLContext): string[] {
    viewerOf(ctx);
    return Object.keys(ctx.services.router.aliases()).sort();
  }

  @FieldResolver(() => ProviderHealth, { description: "The last periodic health check" })
  async health(@Root() p: Provider, @Ctx() ctx: GraphQLContext): Promise<ProviderHealth> {
    if (p.simulated) return { status: ProviderHealthStatus.UP, checkedAt: null, latencyMs: null, message: "simulated: always up" };
    const h = await ctx.services.providers.health(p.id);
    return { ...h, status: h.status as ProviderHealthStatus };
  }

  @FieldResolver(() => [ProviderKey], { nullable: true, description: "Admins: the API-key pool (label, last four characters, health, state, in-flight, usage); null for others" })
  async keys(@Root() p: Provider, @Ctx() ctx: GraphQLContext): Promise<ProviderKey[] | null> {
    if (!isAdmin(viewerOf(ctx))) return null;
    const list = await ctx.services.providers.keys.describe(p.id);
    return list.map((k) => ({ ...k, state: k.state as ProviderKeyState, source: k.source as ProviderKeySource }));
  }

  @Mutation(() => Provider, { description: "Admin: add an API key to a provider's pool (stored AES-256-GCM encrypted; needs SWITCHBOARD_MASTER_KEY)" })
  async addProviderKey(
    @Arg("provider", () => ID) provider: string, @Arg("label") label: string, @Arg("key") key: string, @Ctx() ctx: GraphQLContext,
  ): Promise<Provider> {
    admin(ctx, "add provider keys");
    const p = knownProvider(ctx, provider);
    await ctx.services.providers.keys.add(provider, label, key);
    return toProvider(p, ctx);
  }

  @Mutation(() => Provider, { description: "Admin: stop using a key (environment or stored) on every node" })
  async disableProviderKey(@Arg("provider", () => ID) provider: string, @Arg("label") label: string, @Ctx() ctx: GraphQLContext): Promise<Provider> {
    admin(ctx, "disable provider keys");
    const p = knownProvider(ctx, provider);
    await ctx.services.providers.keys.disable(provider, label);
    return toProvider(p, ctx);
  }

  @Mutation(() => Provider, { description: "Admin: use a disabled key again (clears its cooldown and auth failures)" })
  async enableProviderKey(@Arg("provider", () => ID) provider: string, @Arg("label") label: string, @Ctx() ctx: GraphQLContext): Promise<Provider> {
    admin(ctx, "enable provider keys");
    const p = knownProvider(ctx, provider);
    await ctx.services.providers.keys.enable(provider, label);
    return toProvider(p, ctx);
  }

  @Mutation(() => Provider, { description: "Admin: delete a stored key (environment keys are removed from the environment)" })
  async removeProviderKey(@Arg("provider", () => ID) provider: string, @Arg("label") label: string, @Ctx() ctx: GraphQLContext): Promise<Provider> {
    admin(ctx, "remove provider keys");
    const p = knownProvider(ctx, provider);
    await ctx.services.providers.keys.remove(provider, label);
    return toProvider(p, ctx);
  }

  @Mutation(() => ProviderHealth, { description: "Admin: run a provider's health check now" })
  async checkProviderHealth(@Arg("provider", () => ID) provider: string, @Ctx() ctx: GraphQLContext): Promise<ProviderHealth> {
    admin(ctx, "check provider health");
    const p = ctx.services.registry.provider(provider);
    if (!p) throw new BadUserInputError(`unknown provider "${provider}"`, { field: "provider" });
    const h = await ctx.services.providers.probe(p);
    return { ...h, status: h.status as ProviderHealthStatus };
  }

  @Query(() => [Alert], { description: "Admin: recent alerts, newest first" })
  async alerts(
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { defaultValue: 50 }) first: number,
    @Arg("kind", () => String, { nullable: true }) kind?: string,
    @Arg("provider", () => String, { nullable: true }) provider?: string,
  ): Promise<Alert[]> {
    admin(ctx, "read alerts");
    if (first < 1 || first > 500) throw new BadUserInputError("first must be between 1 and 500", { field: "first" });
    const list = await ctx.services.alerts.list({ first, kind: kind ?? undefined, provider: provider ?? undefined });
    return list.map((a) => ({ ...a, createdAt: new Date(a.createdAt) }));
  }

  @Query(() => [OllamaModel], { description: "Admin: models on the local Ollama server" })
  async ollamaModels(@Ctx() ctx: GraphQLContext): Promise<OllamaModel[]> {
    admin(ctx, "manage Ollama models");
    const list = await ollama(ctx).listModels();
    return list.map((m) => ({ name: m.name, sizeBytes: m.sizeBytes, modifiedAt: m.modifiedAt ? new Date(m.modifiedAt) : null, family: m.family ?? null, parameterSize: m.parameterSize ?? null }));
  }

  @Mutation(() => Boolean, { description: "Admin: start pulling a model into Ollama; follow it on ollamaPullProgress(model)" })
  pullOllamaModel(@Arg("model") model: string, @Ctx() ctx: GraphQLContext): boolean {
    admin(ctx, "manage Ollama models");
    if (!/^[\w.:/-]{1,200}$/.test(model)) throw new BadUserInputError("model must be an Ollama model name such as llama3.2 or llama3.2:1b", { field: "model" });
    const o = ollama(ctx);
    const bus = ctx.services.bus;
    const catalog = ctx.services.catalog;
    const send = (p: Omit<TopicPayloads[Topic.OLLAMA_PULL], "model">) => bus.publish(Topic.OLLAMA_PULL, model, { model, ...p }).catch(() => undefined);
    void o
      .pull(model, (p) => void send({ status: p.status, fraction: p.fraction ?? null, completedBytes: p.completed ?? null, totalBytes: p.total ?? null, done: false, error: null }))
      // The pulled model joins the catalog (every node) before the last event says so.
      .then(() => catalog.refresh("ollama").then(() => undefined, () => undefined))
      .then(
        () => send({ status: "success", fraction: 1, completedBytes: null, totalBytes: null, done: true, error: null }),
        (e: Error) => send({ status: "error", fraction: null, completedBytes: null, totalBytes: null, done: true, error: e.message }),
      );
    return true;
  }

  @Mutation(() => Boolean, { description: "Admin: delete a model from Ollama" })
  async deleteOllamaModel(@Arg("model") model: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    admin(ctx, "manage Ollama models");
    await ollama(ctx).delete(model);
    return true;
  }

  @Subscription(() => OllamaPullProgress, {
    description: "Admin: progress of a model pull started with pullOllamaModel",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      admin(ctx, "manage Ollama models");
      return ctx.services.bus.iterate(Topic.OLLAMA_PULL, (args as { model: string }).model);
    },
  })
  ollamaPullProgress(@Arg("model") _model: string, @Root() p: TopicPayloads[Topic.OLLAMA_PULL]): OllamaPullProgress {
    return p;
  }
}
