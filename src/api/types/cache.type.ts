import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum CachePolicy {
  AUTO = "AUTO",
  USE = "USE",
  BYPASS = "BYPASS",
  REFRESH = "REFRESH",
}
registerEnumType(CachePolicy, {
  name: "CachePolicy",
  description: "AUTO: only deterministic requests (explicit seed, temperature 0, embeddings). USE: read and write. BYPASS: neither. REFRESH: skip the read, write the result.",
});

export enum CacheHitKind {
  EXACT = "EXACT",
  SEMANTIC = "SEMANTIC",
  COALESCED = "COALESCED",
}
registerEnumType(CacheHitKind, {
  name: "CacheHitKind",
  description: "EXACT / SEMANTIC: served from cache. COALESCED: shared the upstream work of an identical request in flight at the same time (sourceGenerationId).",
});

@ObjectType()
export class CacheHit {
  @Field(() => CacheHitKind) kind: CacheHitKind;
  @Field(() => Float) similarity: number;
  @Field(() => ID) sourceGenerationId: string;
}

@ObjectType()
export class CacheStats {
  @Field(() => Int) hits: number;
  @Field(() => Int) misses: number;
  @Field(() => Int) writes: number;
  @Field(() => Int, { description: "Requests that joined an identical one in flight (in-flight coalescing)" }) coalesced: number;
  @Field(() => Float, { description: "hits / (hits + misses)" }) hitRate: number;
}
