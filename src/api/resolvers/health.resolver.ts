import { Arg, Ctx, Query, Resolver, Root, Subscription } from "type-graphql";
import { ForbiddenError } from "../../common/errors";
import { isAdmin } from "../../domain/viewer";
import { Topic, type AlertPayload } from "../../realtime/topics";
import { viewerOf, type GraphQLContext } from "../context";
import { Alert, ProviderHealthStatus, ProviderKeySource, ProviderKeyState } from "../types/catalog.type";
import { Health, HealthStatus } from "../types/health.type";

function admin(ctx: GraphQLContext, what: string): void {
  if (!isAdmin(viewerOf(ctx))) throw new ForbiddenError(`Only admins can ${what}`);
}

@Resolver()
export class HealthResolver {
  @Query(() => Health, { description: "Postgres, Redis, queue depth and each configured provider's status; admins also see key pools and error text" })
  async health(@Ctx() ctx: GraphQLContext): Promise<Health> {
    const r = await ctx.services.health.report(viewerOf(ctx));
    return {
      ...r,
      status: r.status as HealthStatus,
      providers: r.providers.map((p) => ({
        ...p,
        status: p.status as ProviderHealthStatus,
        keyPool: p.keyPool && { ...p.keyPool, keys: p.keyPool.keys.map((k) => ({ ...k, state: k.state as ProviderKeyState, source: k.source as ProviderKeySource })) },
      })),
    };
  }

  @Subscription(() => Alert, {
    name: "alerts",
    description: "Admin: alerts as they are raised (disabled keys, latency and error-rate anomalies, …), optionally of one kind or provider",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      admin(ctx, "subscribe to alerts");
      const { kind, provider } = args as { kind?: string | null; provider?: string | null };
      return ctx.services.bus.iterate(Topic.ALERT_RAISED, undefined, (a) => (!kind || a.kind === kind) && (!provider || a.provider === provider));
    },
  })
  alertRaised(
    @Root() a: AlertPayload,
    @Arg("kind", () => String, { nullable: true }) _kind?: string,
    @Arg("provider", () => String, { nullable: true }) _provider?: string,
  ): Alert {
    return { ...a, createdAt: new Date(a.createdAt) };
  }
}
