import type { DataSource, EntityTarget, ObjectLiteral } from "typeorm";

/**
 * Maps a raw row (snake_case columns, as returned by `UPDATE … RETURNING *`) to an entity
 * using TypeORM's own column metadata and transformers.
 */
export function rowToEntity<T extends ObjectLiteral>(ds: DataSource, target: EntityTarget<T>, row: Record<string, unknown>): T {
  const meta = ds.getMetadata(target);
  const entity = meta.create() as Record<string, unknown>;
  for (const col of meta.columns) {
    let v = row[col.databaseName];
    if (v === undefined) continue;
    const t = col.transformer;
    if (t && !Array.isArray(t)) v = t.from(v);
    entity[col.propertyName] = v;
  }
  return entity as T;
}
