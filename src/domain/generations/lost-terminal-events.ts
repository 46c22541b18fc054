/**
 * A terminal state committed by a process that died before publishing it leaves subscribers
 * waiting forever. Every stream is open (in Redis) from QUEUED until its terminal event goes
 * out; the sweeper looks at streams open longer than the grace period, publishes the terminal
 * event of those whose row is terminal, and checks the others again a grace period later.
 * Cost per sweep: one ZRANGEBYSCORE, and one SELECT by id only when some stream is that old.
 */
import { TERMINAL_STATUSES } from "../../db/entities/generation.entity";
import type { GenerationEvents } from "./generation-events";
import type { GenerationStore } from "./generation.store";

/** Publishes the terminal events lost between commit and publish; returns how many. */
export async function republishLostTerminalEvents(store: GenerationStore, bus: GenerationEvents, graceMs: number, limit = 500): Promise<number> {
  const ids = await bus.openStreams(Date.now() - graceMs, limit);
  if (!ids.length) return 0;
  const byId = new Map((await store.findByIds(ids)).map((g) => [g.id, g]));
  const stillRunning: string[] = [];
  let published = 0;
  for (const id of ids) {
    const g = byId.get(id);
    if (!g) continue;
    if (!TERMINAL_STATUSES.includes(g.status)) stillRunning.push(id);
    // Committed within the grace period: its own process is most likely publishing it right now.
    else if (g.completedAt && g.completedAt.getTime() > Date.now() - graceMs) continue;
    else if (await bus.republishTerminal(g)) published++;
  }
  await bus.touchOpenStreams(stillRunning);
  await bus.forgetOpenStreams(ids.filter((id) => !byId.has(id)));
  return published;
}
