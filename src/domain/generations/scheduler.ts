import type { Priority } from "../../db/entities/generation.entity";

/** What the domain needs from the job queue (implemented in jobs/ on BullMQ). */
export interface GenerationScheduler {
  /** `userId` lets workers apply the per-user fairness cap. */
  enqueue(generationId: string, priority: Priority, userId?: string): Promise<void>;
  /** Removes a waiting/delayed job; false when it is running or gone. */
  remove(generationId: string): Promise<boolean>;
  /** "missing" when no job exists for the generation. */
  state(generationId: string): Promise<"waiting" | "active" | "delayed" | "completed" | "failed" | "missing" | "other">;
}
