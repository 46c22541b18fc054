/** DataLoaders, created per operation (and per subscription event), never per connection. */
import DataLoader from "dataloader";
import { In, type DataSource } from "typeorm";
import { GenerationAttemptEntity } from "../../db/entities/generation-attempt.entity";
import { UserEntity } from "../../db/entities/user.entity";

export function createLoaders(ds: DataSource) {
  return {
    user: new DataLoader<string, UserEntity | null>(async (ids) => {
      const rows = await ds.getRepository(UserEntity).findBy({ id: In([...ids]) });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    attempts: new DataLoader<string, GenerationAttemptEntity[]>(async (ids) => {
      const rows = await ds.getRepository(GenerationAttemptEntity).find({
        where: { generationId: In([...ids]) },
        order: { attemptNo: "ASC" },
      });
      const by = new Map<string, GenerationAttemptEntity[]>(ids.map((id) => [id, []]));
      for (const r of rows) by.get(r.generationId)?.push(r);
      return ids.map((id) => by.get(id)!);
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
