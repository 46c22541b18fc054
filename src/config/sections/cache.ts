/** The exact and semantic caches. */
import { bool, int, list, num, opt } from "../spec";

export const cache = {
  /** A separate Redis for the cache (LRU eviction is fine there); unset: REDIS_URL. */
  redisUrl: opt("CACHE_REDIS_URL"),
  /** Entry lifetime per modality, seconds (embeddings a week). */
  ttlSeconds: {
    TEXT: int("CACHE_TTL_TEXT_SECONDS", 86_400, 1),
    IMAGE: int("CACHE_TTL_IMAGE_SECONDS", 86_400, 1),
    VIDEO: int("CACHE_TTL_VIDEO_SECONDS", 86_400, 1),
    AUDIO: int("CACHE_TTL_AUDIO_SECONDS", 86_400, 1),
    EMBEDDING: int("CACHE_TTL_EMBEDDING_SECONDS", 604_800, 1),
  },
  /** Comma-separated models whose cache entries are shared across users (public content); default none. */
  sharedModels: list("CACHE_SHARED_MODELS"),
  /** Whether prompt case matters for the key. */
  caseSensitive: bool("CACHE_CASE_SENSITIVE", true),
  /** Cosine similarity a semantic hit needs. */
  semanticThreshold: num("SEMANTIC_CACHE_THRESHOLD", 0.92, 0, 1),
  /** Comma-separated routes that use the semantic cache without asking; default none. */
  semanticModels: list("SEMANTIC_CACHE_MODELS"),
};
