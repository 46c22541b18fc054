import { Arg, Ctx, Int, Mutation, Query, Resolver } from "type-graphql";
import { BadUserInputError, ForbiddenError } from "../../common/errors";
import type { QueueStatus as QueueStatusView } from "../../domain/generations/queue-control";
import { isAdmin, type Viewer } from "../../domain/viewer";
import { viewerOf, type GraphQLContext } from "../context";
import { Priority } from "../types/enums";
import { ClearQueueFilter, QueueStatus } from "../types/queue.type";

function admin(ctx: GraphQLContext, what: string): Viewer {
  const viewer = viewerOf(ctx);
  if (!isAdmin(viewer)) throw new ForbiddenError(`Only admins can ${what}`);
  return viewer;
}

function knownProvider(ctx: GraphQLContext, id: string | null | undefined, field: string): string | null {
  if (id == null) return null;
  if (!ctx.services.registry.provider(id)) throw new BadUserInputError(`unknown provider "${id}"`, { field });
  return id;
}

const toStatus = (s: QueueStatusView): QueueStatus => ({
  paused: s.paused, pausedProviders: s.providers, waiting: s.waiting, active: s.active, delayed: s.delayed,
  byPriority: s.byPriority.map((p) => ({ priority: p.priority as Priority, count: p.count })),
});

/** Admin queue controls (domain/generations/queue-control.ts): pause, resume, clear, and the queue's figures. */
@Resolver()
export class QueueResolver {
  @Query(() => QueueStatus, { description: "Admin: the generation queue: what is paused, and waiting/active/delayed jobs" })
  async queue(@Ctx() ctx: GraphQLContext): Promise<QueueStatus> {
    admin(ctx, "see the queue");
    return toStatus(await ctx.services.queue.status());
  }

  @Mutation(() => QueueStatus, {
    description: "Admin: pause the whole queue, or only work routed to `provider`, on every worker at once. Paused work stays QUEUED; running work finishes.",
  })
  async pauseQueue(@Ctx() ctx: GraphQLContext, @Arg("provider", () => String, { nullable: true }) provider?: string): Promise<QueueStatus> {
    admin(ctx, "pause the queue");
    return toStatus(await ctx.services.queue.pause(knownProvider(ctx, provider, "provider")));
  }

  @Mutation(() => QueueStatus, { description: "Admin: resume the whole queue, or one provider's work (held jobs rejoin the line at the end of their priority)" })
  async resumeQueue(@Ctx() ctx: GraphQLContext, @Arg("provider", () => String, { nullable: true }) provider?: string): Promise<QueueStatus> {
    admin(ctx, "resume the queue");
    return toStatus(await ctx.services.queue.resume(knownProvider(ctx, provider, "provider")));
  }

  @Mutation(() => Int, {
    description: "Admin: cancel every QUEUED generation matching the filter (all of them without one), as cancelGeneration does: CANCELLED events, reservations released, webhooks. Returns how many were cancelled; running work is left alone.",
  })
  async clearQueue(@Ctx() ctx: GraphQLContext, @Arg("filter", () => ClearQueueFilter, { nullable: true }) filter?: ClearQueueFilter): Promise<number> {
    const viewer = admin(ctx, "clear the queue");
    const f = filter ?? {};
    return ctx.services.queue.clear(viewer, {
      userId: f.userId, model: f.model, provider: knownProvider(ctx, f.provider, "filter.provider"), priority: f.priority, createdBefore: f.createdBefore,
    });
  }
}
