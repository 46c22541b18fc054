import { BadUserInputError } from "../../common/errors";
import { isUuid } from "../../common/ids";
import type { GenerationEntity, GenerationStatus } from "../../db/entities/generation.entity";
import type { Modality } from "../../providers/contract";

export interface GenerationFilter {
  status?: GenerationStatus[];
  modality?: Modality;
  model?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Admins only. */
  userId?: string;
}

export interface GenerationPage {
  edges: { node: GenerationEntity; cursor: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Opaque keyset cursor over (created_at DESC, id DESC). */
export function encodeCursor(g: Pick<GenerationEntity, "createdAt" | "id">): string {
  return Buffer.from(JSON.stringify([g.createdAt.toISOString(), g.id])).toString("base64url");
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    const createdAt = new Date(at);
    if (typeof at !== "string" || Number.isNaN(createdAt.getTime()) || typeof id !== "string" || !isUuid(id)) throw new Error();
    return { createdAt, id };
  } catch {
    throw new BadUserInputError("`after` is not a cursor this API issued", { field: "after" });
  }
}
