import { Arg, Ctx, FieldResolver, ID, Int, Resolver, Root, Subscription } from "type-graphql";
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { Viewer } from "../../domain/viewer";
import { coalescePerTurn, followGeneration } from "../../realtime/follow-generation";
import { fromEventView, type GenerationEventPayload, type GenerationView } from "../../realtime/generation-event";
import { Topic } from "../../realtime/topics";
import { loadersForEvent, viewerOf, type GraphQLContext } from "../context";
import { Generation, GenerationEvent } from "../types/generation.type";
import type { Services } from "../services";

/**
 * generations.get (the read and its access check) for subscriptions subscribing in the same turn:
 * one call per viewer (user, role, tier, API key: everything a viewer is besides its request id)
 * and generation, made after each of them asked (coalescePerTurn). A dashboard opening ten
 * generationUpdated of one generation reads it once, not ten times; another viewer never shares
 * the call, so each viewer gets exactly the answer its own check gives.
 */
const gets = new WeakMap<Services["generations"], (key: string, a: { viewer: Viewer; id: string }) => Promise<GenerationEntity>>();
export function getForSubscription(services: Services, viewer: Viewer, id: string): Promise<GenerationEntity> {
  const svc = services.generations;
  let get = gets.get(svc);
  if (!get) gets.set(svc, (get = coalescePerTurn((a: { viewer: Viewer; id: string }) => svc.get(a.viewer, a.id))));
  return get(JSON.stringify([viewer.userId, viewer.role, viewer.tier, viewer.apiKeyId, id]), { viewer, id });
}

@Resolver(() => GenerationEvent)
export class GenerationEventResolver {
  @Subscription(() => GenerationEvent, {
    description: "One generation's events: SNAPSHOT first, then live events; completes after the terminal event",
    subscribe: async ({ args, context }) => {
      const ctx = context as GraphQLContext;
      const viewer = viewerOf(ctx);
      const gen = await getForSubscription(ctx.services, viewer, args.id as string);
      return followGeneration(ctx.services.bus, gen, () => getForSubscription(ctx.services, viewer, gen.id));
    },
  })
  generationUpdated(@Arg("id", () => ID) _id: string, @Root() ev: GenerationEventPayload, @Ctx() ctx: GraphQLContext): GenerationEventPayload {
    loadersForEvent(ctx, ev); // attempts change while it runs
    return ev;
  }

  @Subscription(() => GenerationEvent, {
    description: "Events of all your generations (admins: only their own too)",
    subscribe: async ({ context }) => {
      const ctx = context as GraphQLContext;
      const viewer = viewerOf(ctx);
      return ctx.services.bus.iterate(Topic.USER_GENERATION_EVENT, viewer.userId, (ev) => ev.userId === viewer.userId);
    },
  })
  myGenerations(@Root() ev: GenerationEventPayload, @Ctx() ctx: GraphQLContext): GenerationEventPayload {
    loadersForEvent(ctx, ev);
    return ev;
  }

  @FieldResolver(() => Generation, { description: "The generation as of this event (from the event itself, no database read)" })
  generation(@Root() ev: GenerationEventPayload): GenerationView {
    return fromEventView(ev.generation);
  }

  @FieldResolver(() => Date)
  at(@Root() ev: GenerationEventPayload): Date {
    return new Date(ev.at);
  }

  @FieldResolver(() => Int, { nullable: true })
  queuePosition(@Root() ev: GenerationEventPayload): number | null {
    return ev.queuePosition ?? null;
  }

  @FieldResolver(() => Date, { nullable: true })
  estimatedStartAt(@Root() ev: GenerationEventPayload): Date | null {
    return ev.estimatedStartAt ? new Date(ev.estimatedStartAt) : null;
  }
}

// Every field of GraphQL's Generation type is read off an event's view: one it lacks is a type error here.
type NoneMissing<T extends never> = T;
export type ViewCoversGeneration = NoneMissing<Exclude<keyof Generation, keyof GenerationView>>;
