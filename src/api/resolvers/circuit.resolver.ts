import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { BadUserInputError, ForbiddenError } from "../../common/errors";
import type { CircuitView } from "../../domain/resilience/circuit-breaker";
import { isAdmin } from "../../domain/viewer";
import { Topic, type CircuitEventPayload } from "../../realtime/topics";
import { viewerOf, type GraphQLContext } from "../context";
import { Provider } from "../types/catalog.type";
import { Circuit, CircuitEvent, CircuitState } from "../types/circuit.type";

const toCircuit = (c: CircuitView): Circuit => ({ ...c, state: c.state as CircuitState });
const toEvent = (e: CircuitEventPayload): CircuitEvent => ({
  ...e, from: e.from as CircuitState, to: e.to as CircuitState, nextProbeAt: e.nextProbeAt ? new Date(e.nextProbeAt) : null, at: new Date(e.at),
});

function admin(ctx: GraphQLContext, what: string): void {
  if (!isAdmin(viewerOf(ctx))) throw new ForbiddenError(`Only admins can ${what}`);
}

function provider(ctx: GraphQLContext, id: string, model: string | null | undefined): void {
  const p = ctx.services.registry.provider(id);
  if (!p) throw new BadUserInputError(`unknown provider "${id}"`, { field: "provider" });
  if (model != null && !p.models.some((m) => m.name === model)) throw new BadUserInputError(`provider ${id} has no model "${model}"`, { field: "model" });
}

@Resolver(() => Provider)
export class CircuitResolver {
  @FieldResolver(() => [Circuit], { description: "Its circuit breakers: the provider-wide one, plus per-model ones where configured" })
  circuits(@Root() p: Provider, @Ctx() ctx: GraphQLContext): Promise<Circuit[]> {
    return ctx.services.breakers.list(p.id).then((l) => l.map(toCircuit));
  }

  @Mutation(() => Circuit, { description: "Admin: open a circuit (provider-wide, or one model's) until reset: candidates on it are skipped" })
  async forceOpenCircuit(@Arg("provider", () => ID) id: string, @Ctx() ctx: GraphQLContext, @Arg("model", () => String, { nullable: true }) model?: string): Promise<Circuit> {
    admin(ctx, "force circuits open");
    provider(ctx, id, model);
    return toCircuit(await ctx.services.breakers.forceOpen(id, model ?? null));
  }

  @Mutation(() => Circuit, { description: "Admin: close a circuit and forget its failures" })
  async resetCircuit(@Arg("provider", () => ID) id: string, @Ctx() ctx: GraphQLContext, @Arg("model", () => String, { nullable: true }) model?: string): Promise<Circuit> {
    admin(ctx, "reset circuits");
    provider(ctx, id, model);
    return toCircuit(await ctx.services.breakers.reset(id, model ?? null));
  }

  @Mutation(() => Boolean, {
    description: "Admin: inject faults into a SIMULATED provider, or one of its models (drills, benchmarks): failRate 0..1, failWith (unavailable, overloaded, timeout, rate_limited, bad_response), latencyMs. failRate 0 and latencyMs 0 clear them. Real providers cannot be faulted.",
  })
  async setSimulatedFaults(
    @Arg("provider", () => ID) id: string,
    @Arg("failRate", () => Float) failRate: number,
    @Ctx() ctx: GraphQLContext,
    @Arg("failWith", () => String, { defaultValue: "unavailable" }) failWith: string,
    @Arg("latencyMs", () => Int, { defaultValue: 0 }) latencyMs: number,
    @Arg("retryAfterSeconds", () => Int, { nullable: true }) retryAfterSeconds?: number,
    @Arg("model", () => String, { nullable: true, description: "Only this model (e.g. \"text\"); default the whole provider" }) model?: string,
  ): Promise<boolean> {
    admin(ctx, "inject faults");
    const p = ctx.services.registry.provider(id);
    if (!p?.simulated) throw new BadUserInputError(`"${id}" is not a simulated provider; only simulated providers can be faulted`, { field: "provider" });
    if (model != null && !p.models.some((m) => m.name === model)) throw new BadUserInputError(`${id} has no model "${model}"`, { field: "model" });
    if (!(failRate >= 0 && failRate <= 1)) throw new BadUserInputError("failRate must be between 0 and 1", { field: "failRate" });
    if (!["unavailable", "overloaded", "timeout", "rate_limited", "bad_response"].includes(failWith))
      throw new BadUserInputError("failWith must be one of unavailable, overloaded, timeout, rate_limited, bad_response", { field: "failWith" });
    if (latencyMs < 0 || latencyMs > 60_000) throw new BadUserInputError("latencyMs must be between 0 and 60000", { field: "latencyMs" });
    const clear = failRate === 0 && latencyMs === 0;
    await ctx.services.faults.set(id, model ?? null, clear ? null : { failRate, failWith: failWith as never, latencyMs, retryAfterSeconds: retryAfterSeconds ?? undefined });
    return true;
  }

  @Query(() => [CircuitEvent], { description: "Recent circuit transitions, newest first (stored in Postgres)" })
  async circuitEvents(
    @Ctx() ctx: GraphQLContext,
    @Arg("provider", () => ID, { nullable: true }) id?: string,
    @Arg("first", () => Int, { defaultValue: 50 }) first = 50,
  ): Promise<CircuitEvent[]> {
    viewerOf(ctx);
    if (first < 1 || first > 500) throw new BadUserInputError("first must be between 1 and 500", { field: "first" });
    const events = await ctx.services.breakers.recentEvents(id ?? null, first);
    return events.map((e) => ({ ...e, from: e.from as CircuitState, to: e.to as CircuitState }));
  }

  @Subscription(() => CircuitEvent, {
    description: "Every circuit transition (of one provider, or all), live across all workers",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      viewerOf(ctx);
      return ctx.services.bus.iterate(Topic.CIRCUIT_STATE_CHANGED, (args as { provider?: string }).provider ?? undefined);
    },
  })
  circuitStateChanged(@Root() e: CircuitEventPayload, @Arg("provider", () => ID, { nullable: true }) _provider?: string): CircuitEvent {
    return toEvent(e);
  }
}
