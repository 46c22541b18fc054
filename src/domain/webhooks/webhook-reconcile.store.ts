/** The reconciler's cursors (`webhook_reconcile_cursors`): the only module that writes or reads them. */
import type { DataSource } from "typeorm";

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
}
