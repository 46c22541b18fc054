/**
 * The queues Bull Board (/admin/queues, src/http/bull-board.route.ts) shows, as its adapters:
 * generations, webhooks and analytics. The generations queue is read-only there: Postgres is the
 * source of truth for a generation (a job removed behind its back is re-enqueued by the sweeper,
 * a promoted or retried one skips admission), so it is changed through cancelGeneration,
 * pauseQueue and clearQueue instead. Webhook deliveries and rollups may be retried or cleaned.
 */
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import type { BaseAdapter } from "@bull-board/api/baseAdapter";
import { Queue, type ConnectionOptions } from "bullmq";
import { ANALYTICS_QUEUE } from "./rollup.processor";
import { queuePrefix } from "./queue-prefix";

export interface BullBoardQueues {
  adapters: BaseAdapter[];
  close(): Promise<void>;
}

/** `generations` and `webhooks` are the app's own queue handles; an analytics handle is opened here (and closed by close()). */
export function bullBoardQueues(s: { generations: Queue; webhooks: Queue; connection: ConnectionOptions; prefix: string }): BullBoardQueues {
  const analytics = new Queue(ANALYTICS_QUEUE, { connection: s.connection, prefix: queuePrefix(s.prefix, ANALYTICS_QUEUE, s.connection) });
  analytics.on("error", () => undefined); // reconnects by itself (an unheard 'error' would end the process)
  return {
    adapters: [
      new BullMQAdapter(s.generations, { readOnlyMode: true, description: "Generation jobs (read-only: use cancelGeneration, pauseQueue, clearQueue)" }),
      new BullMQAdapter(s.webhooks, { description: "Signed webhook deliveries" }),
      new BullMQAdapter(analytics, { description: "Hourly analytics rollups" }),
    ],
    close: () => analytics.close(),
  };
}
