import type { GenerationEntity } from "../db/entities/generation.entity";

export type GenerationEventType =
  | "SNAPSHOT" | "QUEUED" | "STARTED" | "PROGRESS" | "DELTA" | "RESTARTED"
  | "RETRYING" | "FALLBACK" | "SUCCEEDED" | "FAILED" | "CANCELLED";

export const TERMINAL_EVENT_TYPES: ReadonlySet<GenerationEventType> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/** The generation as it travels inside an event: plain JSON (dates as ISO strings). */
export type GenerationSnapshot = Omit<GenerationEntity, "createdAt" | "updatedAt" | "startedAt" | "completedAt"> & {
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
};

/** What crosses Redis for every generation event. `seq` is gap-free per generation. */
export interface GenerationEventPayload {
  seq: number;
  type: GenerationEventType;
  generationId: string;
  userId: string;
  at: string;
  progress?: number;
  delta?: string;
  /** SNAPSHOT only: the text accumulated so far. */
  text?: string;
  /** Human-readable reason (RETRYING, FALLBACK, RESTARTED). */
  message?: string;
  generation: GenerationSnapshot;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toSnapshot(g: GenerationEntity): GenerationSnapshot {
  return {
    ...g,
    createdAt: iso(g.createdAt)!,
    updatedAt: iso(g.updatedAt)!,
    startedAt: iso(g.startedAt),
    completedAt: iso(g.completedAt),
  };
}

export function fromSnapshot(s: GenerationSnapshot): GenerationEntity {
  return Object.assign(Object.create(null), s, {
    createdAt: new Date(s.createdAt),
    updatedAt: new Date(s.updatedAt),
    startedAt: s.startedAt ? new Date(s.startedAt) : null,
    completedAt: s.completedAt ? new Date(s.completedAt) : null,
  }) as GenerationEntity;
}
