/**
 * What the reconciler walks: its cursors (`webhook_reconcile_cursors`, owned here) and the
 * terminal generations owed a delivery. `generations` is only read here (the generation
 * store writes it).
 */
import type { DataSource } from "typeorm";
import { NIL_UUID } from "./webhook-delivery.store";

export interface Position {
  /** Full-precision timestamptz text (a JS Date would drop the microseconds and re-read rows). */
  at: string;
  id: string;
}

export class WebhookReconcileStore {
  constructor(private readonly ds: DataSource) {}

  async position(name: string): Promise<Position | null> {
    const [row] = await this.ds.query(`SELECT position_at::text AS at, position_id AS id FROM webhook_reconcile_cursors WHERE name = $1`, [name]);
    return row ?? null;
  }

  /** Moves the cursor to `pos`; with `forwardOnly`, never back (two sweeps may race). */
  async setPosition(name: string, pos: Position, forwardOnly: boolean): Promise<void> {
    if (forwardOnly)
      await this.ds.query(
        `INSERT INTO webhook_reconcile_cursors (name, position_at, position_id) VALUES ($1, $2::timestamptz, $3)
         ON CONFLICT (name) DO UPDATE SET position_at = EXCLUDED.position_at, position_id = EXCLUDED.position_id, updated_at = now()
          WHERE (webhook_reconcile_cursors.position_at, webhook_reconcile_cursors.position_id) < (EXCLUDED.position_at, EXCLUDED.position_id)`,
        [name, pos.at, pos.id],
      );
    else
      await this.ds.query(
        `INSERT INTO webhook_reconcile_cursors (name, position_at, position_id) VALUES ($1, $2::timestamptz, $3)
         ON CONFLICT (name) DO UPDATE SET position_at = EXCLUDED.position_at, position_id = EXCLUDED.position_id, updated_at = now()`,
        [name, pos.at, pos.id],
      );
  }

  async clearPosition(name: string): Promise<void> {
    await this.ds.query(`DELETE FROM webhook_reconcile_cursors WHERE name = $1`, [name]);
  }

  /**
   * Terminal generations in (completed_at, id) order past `pos`, ended more than `graceMs`
   * ago. A cursor older than the lookback (or none) starts at the lookback.
   */
  terminalsPast(pos: Position | null, graceMs: number, limit: number, lookbackMs: number): Promise<{ id: string; at: string }[]> {
    return this.ds.query(
      `SELECT g.id, g.completed_at::text AS at FROM generations g
        WHERE g.completed_at IS NOT NULL
          AND (g.completed_at, g.id) > (
                CASE WHEN $1::timestamptz >= now() - $5 * interval '1 millisecond' THEN $1::timestamptz ELSE now() - $5 * interval '1 millisecond' END,
                CASE WHEN $1::timestamptz >= now() - $5 * interval '1 millisecond' THEN $2::uuid ELSE '${NIL_UUID}'::uuid END)
          AND g.completed_at < now() - $3 * interval '1 millisecond'
        ORDER BY g.completed_at, g.id LIMIT $4`,
      [pos?.at ?? null, pos?.id ?? NIL_UUID, graceMs, limit, lookbackMs],
    );
  }

  /** The callbackUrl of each generation (for terminal events whose row did not carry it). */
  async callbackUrls(ids: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const r of await this.ds.query(`SELECT id, callback_url FROM generations WHERE id = ANY($1::uuid[])`, [ids])) out.set(r.id, r.callback_url);
    return out;
  }
}
