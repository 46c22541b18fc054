/** What the webhook domain needs from the queue (implemented in jobs/ with BullMQ). */
export interface WebhookScheduler {
  /** Queues one run of attempts per delivery (job id = delivery id + run number). */
  enqueue(runs: { deliveryId: string; run: number }[]): Promise<void>;
  /** Where a run's job is. */
  state(deliveryId: string, run: number): Promise<"waiting" | "active" | "delayed" | "missing" | "finished">;
  /** A delayed (backing-off) run is attempted now; false when it was not delayed. */
  promote(deliveryId: string, run: number): Promise<boolean>;
}
