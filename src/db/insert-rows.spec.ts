import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/helpers/infra";
import { createDataSource } from "./data-source";
import { GenerationEntity } from "./entities/generation.entity";
import { UserEntity } from "./entities/user.entity";
import { insertRows } from "./insert-rows";

let db: TestDatabase;
let ds: DataSource;
beforeAll(async () => {
  db = await createTestDatabase();
  ds = createDataSource({ url: db.url, poolSize: 2 });
  await ds.initialize();
});
afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

const RETURNING = `"id", "status", "provider", "provider_model"`;
const viaQueryBuilder = (rows: GenerationEntity[]) =>
  ds.createQueryBuilder().insert().into(GenerationEntity).values(rows as never[]).updateEntity(false).returning(RETURNING).getQueryAndParameters();

function generation(userId: string, over: Partial<GenerationEntity> = {}): GenerationEntity {
  const now = new Date();
  return Object.assign(new GenerationEntity(), {
    id: randomUUID(), userId, apiKeyId: null, status: "QUEUED", modality: "TEXT", model: "openai/gpt-4o-mini", provider: "openai",
    providerModel: "gpt-4o-mini", prompt: "it's a \"quoted\" prompt; DROP TABLE x", messages: [{ role: "user", content: "hi" }], system: null,
    textOptions: { maxTokens: 10, responseFormat: { type: "json_object" } }, imageOptions: null, videoOptions: null, audioOptions: null,
    params: { temperature: 0.2 }, priority: "NORMAL", seed: null, progress: 0, output: null, errorCode: null, errorMessage: null,
    cached: false, estimatedCostMicros: 1234, costMicros: null, idempotencyKey: null, requestHash: null, runAttempt: 0,
    createdAt: now, updatedAt: now, startedAt: null, completedAt: null, reservedMicros: 0, quotaPeriodStart: null, maxCostMicros: 5_000_000,
    cachePolicy: "AUTO", cacheKey: "k1", cacheHit: null, semanticScope: null, groupId: null, deadlineAt: new Date(now.getTime() + 5000),
    candidates: [{ model: "openai/gpt-4o-mini", provider: "openai", providerModel: "gpt-4o-mini" }], candidateIndex: 0, upstreamTask: null,
    whenUnavailable: "WAIT", callbackUrl: null, seqReserved: 1, source: "OPENAI", requestId: "req-1", background: false, moderation: null, onFlagged: "FAIL",
    ...over,
  } as GenerationEntity);
}

describe("insertRows", () => {
  it("builds the query builder's statement and parameters, for one row and for several with undefined (DEFAULT) columns", async () => {
    const u = randomUUID();
    const one = [generation(u)];
    expect(insertRows(ds, GenerationEntity, one, RETURNING)).toEqual(viaQueryBuilder(one));
    const some = [generation(u), generation(u, { params: undefined as never, background: undefined, status: "RUNNING", runAttempt: 1, startedAt: new Date() }), generation(u, { seed: 7, progress: undefined as never })];
    const [sql, params] = insertRows(ds, GenerationEntity, some, RETURNING);
    expect([sql, params]).toEqual(viaQueryBuilder(some));
    expect(sql).toContain("DEFAULT");
  });

  it("stores the rows Postgres reads back as TypeORM wrote them", async () => {
    const user = await ds.getRepository(UserEntity).save(Object.assign(new UserEntity(), { id: randomUUID(), email: `${randomUUID()}@t`, role: "USER", tier: "free" }));
    const rows = [generation(user.id), generation(user.id, { params: undefined as never, seed: 3 })];
    const [sql, params] = insertRows(ds, GenerationEntity, rows, RETURNING);
    const back = (await ds.query(sql, params)) as { id: string; status: string }[];
    expect(back.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    const stored = await ds.getRepository(GenerationEntity).findOneByOrFail({ id: rows[1].id });
    expect(stored).toMatchObject({ params: {}, seed: 3, maxCostMicros: 5_000_000, estimatedCostMicros: 1234, textOptions: rows[1].textOptions, prompt: rows[1].prompt });
    expect(stored.deadlineAt?.getTime()).toBe(rows[1].deadlineAt!.getTime());
  });

  it("refuses entities whose columns the query builder writes differently", () => {
    // users.created_at is a @CreateDateColumn (the query builder writes DEFAULT for it whatever the entity holds)
    expect(() => insertRows(ds, UserEntity, [new UserEntity()])).toThrow(/UserEntity.createdAt .* use the query builder/);
    expect(() => insertRows(ds, GenerationEntity, [])).toThrow(/no rows/);
  });
});
