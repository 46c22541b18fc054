/**
 * What the web dashboard needs beyond the rest of the API: a Bull Board link for admins, and the
 * quota warning threshold in USD (the QUOTA_WARNING rule: spent + reserved ≥ warnRatio × limit).
 */
import { Ctx, FieldResolver, Float, Mutation, Resolver, Root } from "type-graphql";
import { ForbiddenError } from "../../common/errors";
import { BULL_BOARD_TOKEN_PURPOSE, signToken } from "../../common/signed-token";
import { isAdmin } from "../../domain/viewer";
import { viewerOf, type GraphQLContext } from "../context";
import { BullBoardLink } from "../types/console.type";
import { Quota } from "../types/quota.type";

@Resolver(() => Quota)
export class ConsoleResolver {
  @Mutation(() => BullBoardLink, { description: "Admin: a link to Bull Board (/admin/queues) valid for BULL_BOARD_LINK_TTL_SECONDS; anyone holding it sees the queues until then" })
  bullBoardLink(@Ctx() ctx: GraphQLContext): BullBoardLink {
    const viewer = viewerOf(ctx);
    if (!isAdmin(viewer)) throw new ForbiddenError("Only admins can open Bull Board");
    const { config, filesSecret } = ctx.services;
    const exp = Date.now() + config.auth.bullBoardLinkTtlSeconds * 1000;
    const path = `/admin/queues/s/${signToken(filesSecret, BULL_BOARD_TOKEN_PURPOSE, { sub: viewer.userId, exp })}/`;
    return { url: `${config.http.publicUrl}${path}`, path, expiresAt: new Date(exp) };
  }

  @FieldResolver(() => Float, { description: "QUOTA_WARNING fires when spent + reserved reaches this (QUOTA_WARN_RATIO × limit)" })
  warnAtUsd(@Root() q: Quota, @Ctx() ctx: GraphQLContext): number {
    return Math.round(q.limitUsd * ctx.services.config.quotas.warnRatio * 1e6) / 1e6;
  }
}
