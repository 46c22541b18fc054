import "reflect-metadata";
import { DateTimeResolver } from "graphql-scalars";
import type { GraphQLSchema } from "graphql";
import { buildSchema, type PubSub } from "type-graphql";
import { CatalogResolver } from "./resolvers/catalog.resolver";
import { GenerationEventResolver } from "./resolvers/generation-event.resolver";
import { GenerationFieldsResolver } from "./resolvers/generation-fields.resolver";
import { GenerationResolver } from "./resolvers/generation.resolver";
import { ApiKeyFieldsResolver, MeResolver } from "./resolvers/me.resolver";
import { AccountResolver } from "./resolvers/account.resolver";
import { QuotaResolver } from "./resolvers/quota.resolver";
import { CacheResolver } from "./resolvers/cache.resolver";
import { HealthResolver } from "./resolvers/health.resolver";
import { WebhookResolver } from "./resolvers/webhook.resolver";
import { CircuitResolver } from "./resolvers/circuit.resolver";
import { MetricsResolver } from "./resolvers/metrics.resolver";
import { ConsoleResolver } from "./resolvers/console.resolver";
import { QueueResolver } from "./resolvers/queue.resolver";

export const resolvers = [MeResolver, ApiKeyFieldsResolver, AccountResolver, CatalogResolver, GenerationResolver, GenerationFieldsResolver, GenerationEventResolver, QuotaResolver, CacheResolver, CircuitResolver, WebhookResolver, HealthResolver, MetricsResolver, QueueResolver, ConsoleResolver] as const;

/** Subscriptions use their own `subscribe` functions over the EventBus; this pub/sub is never used for them. */
const unusedPubSub: PubSub = {
  publish: () => undefined,
  subscribe: () => {
    throw new Error("subscriptions are wired through EventBus");
  },
};

export async function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: { forbidUnknownValues: false },
    pubSub: unusedPubSub,
    emitSchemaFile: false,
  });
}
