import type { Tier } from "../config/config";
import type { Role } from "../db/entities/user.entity";

/** Who is asking, and under which request id: the first argument of every domain method. */
export interface Viewer {
  userId: string;
  role: Role;
  tier: Tier;
  apiKeyId: string | null;
  requestId: string;
  /** The key's own limits on top of the user's (issue 17); absent or null: none. */
  keyLimits?: ViewerKeyLimits | null;
  /** When the key stops working (an expiry, or a rotation's overlap ending); null: never. Open streams end then. */
  keyExpiresAt?: Date | null;
}

/** What the request path enforces of a key's limits (expiry is enforced at authentication). */
export interface ViewerKeyLimits {
  /** Per quota period, micro-USD; null = none. */
  budgetMicros: number | null;
  /** Model ids or "<provider>/*" patterns; null = every model. */
  allowedModels: string[] | null;
  rateLimitPerMinute: number | null;
}

export const isAdmin = (v: Viewer): boolean => v.role === "ADMIN";

/** The CLI and internal jobs act as the system. */
export function systemViewer(requestId = "system"): Viewer {
  return { userId: "00000000-0000-0000-0000-000000000000", role: "ADMIN", tier: "enterprise", apiKeyId: null, requestId };
}
