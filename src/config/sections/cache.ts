/** The exact and semantic caches. */
import { bool, int, list, num, opt } from "../spec";

export const cache = {
  /** A separate Redis for the cache (LRU eviction is fine there); unset: REDIS_URL. */
  redisUrl: opt("CACHE_REDIS_URL"),
  /** Comma-separated `host:port` seed nodes when the cache's Redis is a Redis Cluster (user and password from CACHE_REDIS_URL); default none. */
  redisClusterNodes: list("CACHE_REDIS_CLUSTER_NODES"),
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
  /**
   * An EMBEDDING model of the catalog ("provider/model", e.g. openai/text-embedding-3-small or an
   * Ollama nomic-embed-text) the semantic cache embeds prompts with, through that provider's
   * adapter (batched, cached, not charged to anyone). Unset, unavailable or failing: the offline
   * hashed embedder.
   */
  semanticEmbeddingModel: opt("SEMANTIC_CACHE_EMBEDDING_MODEL"),
  /** Cosine similarity a semantic hit needs between vectors of the embedding model (the offline embedder uses SEMANTIC_CACHE_THRESHOLD). */
  semanticEmbeddingThreshold: num("SEMANTIC_CACHE_EMBEDDING_THRESHOLD", 0.8, 0, 1),
  /** How long a lookup waits for the embedding model before it uses the offline embedder instead, ms. */
  semanticEmbeddingTimeoutMs: int("SEMANTIC_CACHE_EMBEDDING_TIMEOUT_MS", 2000, 10, 60_000),
};
