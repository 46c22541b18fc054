import type { Tier } from "../config/config";
import type { Role } from "../db/entities/user.entity";

/** Who is asking, and under which request id: the first argument of every domain method. */
export interface Viewer {
  userId: string;
  role: Role;
  tier: Tier;
  apiKeyId: string | null;
  requestId: string;
}

export const isAdmin = (v: Viewer): boolean => v.role === "ADMIN";

/** The CLI and internal jobs act as the system. */
export function systemViewer(requestId = "system"): Viewer {
  return { userId: "00000000-0000-0000-0000-000000000000", role: "ADMIN", tier: "enterprise", apiKeyId: null, requestId };
}
