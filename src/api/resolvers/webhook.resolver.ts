import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { DeliveryView } from "../../domain/webhooks/webhook.service";
import { viewerOf, type GraphQLContext } from "../context";
import {
  CallbackSecret, CreatedWebhookEndpoint, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEventType, WebhookTarget,
} from "../types/webhook.type";

const toDelivery = (d: DeliveryView): WebhookDelivery => ({ ...d, event: d.event as WebhookEventType, target: d.target as WebhookTarget, status: d.status as WebhookDeliveryStatus });

@Resolver()
export class WebhookResolver {
  @Mutation(() => CreatedWebhookEndpoint, { description: "Register an endpoint for your events. The signing secret is in the answer, and nowhere else ever." })
  async createWebhookEndpoint(
    @Arg("url") url: string,
    @Arg("events", () => [WebhookEventType]) events: WebhookEventType[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatedWebhookEndpoint> {
    const { endpoint, secret } = await ctx.services.webhooks.createEndpoint(viewerOf(ctx), url, events);
    return { endpoint: { ...endpoint, events: endpoint.events as WebhookEventType[] }, secret };
  }

  @Query(() => [WebhookEndpoint], { description: "Your webhook endpoints" })
  async webhookEndpoints(@Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint[]> {
    const list = await ctx.services.webhooks.listEndpoints(viewerOf(ctx));
    return list.map((e) => ({ ...e, events: e.events as WebhookEventType[] }));
  }

  @Mutation(() => Boolean, { description: "Delete one of your endpoints; its pending deliveries stop" })
  deleteWebhookEndpoint(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return ctx.services.webhooks.deleteEndpoint(viewerOf(ctx), id);
  }

  @Mutation(() => CallbackSecret, { description: "A new secret that signs your createGeneration callbackUrl deliveries (replaces the previous one at once); shown only this once" })
  rotateCallbackSecret(@Ctx() ctx: GraphQLContext): Promise<CallbackSecret> {
    return ctx.services.webhooks.rotateCallbackSecret(viewerOf(ctx));
  }

  @Query(() => [WebhookDelivery], { description: "Webhook deliveries, newest first, with every attempt: yours (admins: everyone's)" })
  async webhookDeliveries(
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("generationId", () => ID, { nullable: true }) generationId?: string,
    @Arg("endpointId", () => ID, { nullable: true }) endpointId?: string,
    @Arg("status", () => WebhookDeliveryStatus, { nullable: true }) status?: WebhookDeliveryStatus,
  ): Promise<WebhookDelivery[]> {
    const list = await ctx.services.webhooks.listDeliveries(viewerOf(ctx), { first, generationId, endpointId, status });
    return list.map(toDelivery);
  }

  @Mutation(() => WebhookDelivery, { description: "Send a delivery again (same body and event id): a fresh run of attempts, or now if it is backing off" })
  async redeliverWebhook(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookDelivery> {
    return toDelivery(await ctx.services.webhooks.redeliver(viewerOf(ctx), id));
  }
}
