import type { DataSource } from "typeorm";
import type { BlobStore, StoredBlob } from "./blob-store";

interface BlobRow {
  data: Buffer;
  mime_type: string;
  size_bytes: number;
  created_at: Date;
}

/**
 * Blob store backed by the `blobs` table (see migrations/1732370000000-initial.ts).
 * Suitable for small deployments: media live next to the rest of the data, no extra service.
 */
export class PostgresBlobStore implements BlobStore {
  readonly kind = "postgres" as const;

  /** @param ds an initialised TypeORM DataSource whose database has the `blobs` table. */
  constructor(private readonly ds: DataSource) {}

  /** Inserts or replaces the blob; an overwrite also resets `created_at` to now. */
  async put(key: string, data: Buffer, mimeType: string): Promise<void> {
    await this.ds.query(
      `INSERT INTO blobs (key, mime_type, size_bytes, data, created_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (key) DO UPDATE
         SET mime_type = EXCLUDED.mime_type, size_bytes = EXCLUDED.size_bytes,
             data = EXCLUDED.data, created_at = EXCLUDED.created_at`,
      [key, mimeType, data.length, data],
    );
  }

  /** Returns the blob, or null when the key does not exist. */
  async get(key: string): Promise<StoredBlob | null> {
    const rows: BlobRow[] = await this.ds.query(
      `SELECT data, mime_type, size_bytes, created_at FROM blobs WHERE key = $1`,
      [key],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      data: row.data,
      mimeType: row.mime_type,
      sizeBytes: Number(row.size_bytes),
      createdAt: new Date(row.created_at),
    };
  }

  /** Deletes the blob; a missing key is not an error. */
  async delete(key: string): Promise<void> {
    await this.ds.query(`DELETE FROM blobs WHERE key = $1`, [key]);
  }

  /** Deletes every blob with `created_at < cutoff`; returns how many were deleted. */
  async deleteOlderThan(cutoff: Date): Promise<number> {
    // Wrapped in a CTE so the statement is a SELECT: TypeORM returns `[rows, rowCount]` for a
    // bare DELETE but plain rows for a SELECT, and we want one well-typed shape.
    const rows: { n: number }[] = await this.ds.query(
      `WITH deleted AS (DELETE FROM blobs WHERE created_at < $1 RETURNING 1)
       SELECT count(*)::int AS n FROM deleted`,
      [cutoff],
    );
    return rows[0]?.n ?? 0;
  }
}
