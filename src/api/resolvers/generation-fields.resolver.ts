import { Ctx, FieldResolver, Float, Int, Resolver, Root } from "type-graphql";
import { microsToUsd } from "../../common/money";
import type { GenerationView } from "../../realtime/generation-event";
import { signFilePath } from "../../storage/signed-url";
import type { GraphQLContext } from "../context";
import { Provider } from "../types/catalog.type";
import { Attempt, Generation, GenerationError, GenerationOutput } from "../types/generation.type";
import { User } from "../types/user.type";
import { toProvider } from "./catalog.resolver";

/**
 * Derived fields of Generation; relations go through per-operation DataLoaders. The root is a row
 * (queries, mutations) or an event's view (subscriptions): only what GenerationView holds is read.
 */
@Resolver(() => Generation)
export class GenerationFieldsResolver {
  @FieldResolver(() => Provider, { nullable: true, description: "The provider that serves it, once routed" })
  provider(@Root() g: GenerationView, @Ctx() ctx: GraphQLContext): Provider | null {
    const p = g.provider ? ctx.services.registry.provider(g.provider) : undefined;
    return p ? toProvider(p, ctx) : null;
  }

  @FieldResolver(() => [String], { description: "Routing's candidates in order (primary first, then fallbacks); empty for cache hits" })
  candidates(@Root() g: GenerationView): string[] {
    return (g.candidates ?? []).map((c) => c.model);
  }

  @FieldResolver(() => Float)
  estimatedCostUsd(@Root() g: GenerationView): number {
    return microsToUsd(g.estimatedCostMicros);
  }

  @FieldResolver(() => Float, { nullable: true, description: "Actual cost once settled; 0 for cache hits" })
  costUsd(@Root() g: GenerationView): number | null {
    return g.costMicros === null ? null : microsToUsd(g.costMicros);
  }

  @FieldResolver(() => GenerationError, { nullable: true })
  error(@Root() g: GenerationView): GenerationError | null {
    return g.errorCode ? { code: g.errorCode, message: g.errorMessage ?? "" } : null;
  }

  @FieldResolver(() => GenerationOutput, { nullable: true })
  output(@Root() g: GenerationView, @Ctx() ctx: GraphQLContext): GenerationOutput | null {
    if (!g.output) return null;
    const { publicUrl } = ctx.services.config.http;
    const ttl = ctx.services.config.files.urlTtlSeconds;
    const exp = Math.floor(Date.now() / 1000) + ttl;
    const files = (g.output.files ?? []).map((f) => ({
      ...f,
      url: publicUrl + signFilePath(f.key, ctx.services.filesSecret, exp),
      expiresAt: new Date(exp * 1000),
    }));
    let json: unknown;
    if (g.textOptions?.responseFormat === "JSON" && g.output.text) {
      try {
        json = JSON.parse(g.output.text);
      } catch {
        json = undefined;
      }
    }
    return {
      text: g.output.text ?? null,
      embedding: g.output.embedding ?? null,
      usage: g.output.usage ?? null,
      files,
      url: files[0]?.url ?? null,
      mimeType: files[0]?.mimeType ?? null,
      sizeBytes: files[0]?.sizeBytes ?? null,
      json,
    };
  }

  @FieldResolver(() => [Attempt], { description: "Every upstream call made for it, in order" })
  async attempts(@Root() g: GenerationView, @Ctx() ctx: GraphQLContext): Promise<Attempt[]> {
    const rows = await ctx.loaders.attempts.load(g.id);
    return rows.map((a) => ({ ...a, costUsd: microsToUsd(a.costMicros) }));
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description: "QUEUED and waiting: 1 + the jobs workers take before it (higher priority, then its own priority's earlier ones). An upper bound: fairness or a paused provider may hold some of those back. null once running, or while delayed (a retry's backoff, parked)",
  })
  async queuePosition(@Root() g: GenerationView, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    return (await ctx.services.queuePositions.of(g))?.position ?? null;
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description: "QUEUED and waiting: when it should start at the last minute's completion rate (queuePosition ÷ jobs finished per second). null once running, with no recent completions, or while its queue or provider is paused",
  })
  async estimatedStartAt(@Root() g: GenerationView, @Ctx() ctx: GraphQLContext): Promise<Date | null> {
    return (await ctx.services.queuePositions.of(g))?.estimatedStartAt ?? null;
  }

  @FieldResolver(() => User)
  async user(@Root() g: GenerationView, @Ctx() ctx: GraphQLContext): Promise<User> {
    const u = await ctx.loaders.user.load(g.userId);
    if (!u) throw new Error(`user ${g.userId} of generation ${g.id} is missing`);
    return u as unknown as User;
  }
}
