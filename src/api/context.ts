import type { Logger } from "../observability/logger";
import { UnauthenticatedError } from "../common/errors";
import type { Viewer } from "../domain/viewer";
import type { Services } from "./services";
import type { Loaders } from "./loaders/loaders";

export interface GraphQLContext {
  viewer: Viewer | null;
  requestId: string;
  services: Services;
  loaders: Loaders;
  log: Logger;
  /** Set when a key was presented but is unknown or revoked. */
  authError?: string;
}

/** The authenticated viewer or UNAUTHENTICATED. */
export function viewerOf(ctx: GraphQLContext): Viewer {
  if (!ctx.viewer) throw new UnauthenticatedError(ctx.authError);
  return ctx.viewer;
}
