/**
 * Infrastructure: logger, metrics and tracing, the Postgres DataSources, the Redis
 * connections, pub/sub, the queues and the blob store. Each is closed by the cleanup stack
 * in the reverse order it was opened.
 */
import type { Redis } from "ioredis";
import { RedisPubSub } from "graphql-redis-subscriptions";
import type { DataSource } from "typeorm";
import type { AppConfig } from "../config/config";
import { pendingMigrations } from "../db/data-source";
import { pingPostgres } from "../db/ping";
import { readinessProbe, type Probes } from "../http/probes";
import { assertMigrated, connectPostgres, connectRedis } from "../infra";
import { GenerationQueue } from "../jobs/queues";
import { WebhookQueue } from "../jobs/webhook-queue";
import { createLogger, wantsPrettyLogs, type Logger } from "../observability/logger";
import { createMetrics, type Metrics } from "../observability/metrics";
import { startTracing } from "../observability/tracing";
import { EventBus } from "../realtime/event-bus";
import type { BlobStore } from "../storage/blob-store";
import { PostgresBlobStore } from "../storage/postgres-blob.store";
import { S3BlobStore } from "../storage/s3-blob-store";
import type { CleanupStack } from "./cleanup";

export interface InfrastructureOptions {
  /** Create the database if missing (npm start). */
  createDatabase?: boolean;
  onQuery?: (sql: string) => void;
  logger?: Logger;
}

export interface Infrastructure {
  log: Logger;
  metrics: Metrics;
  ds: DataSource;
  /** DATABASE_READ_URL's DataSource when set, else `ds`. */
  readDs: DataSource;
  /** Commands and BullMQ. */
  redis: Redis;
  /** The auto-pipelined connection: events, breakers, key pools, fairness leases, limits. */
  publisher: Redis;
  /** The exact cache's connection (CACHE_REDIS_URL when set, else `publisher`). */
  cacheRedis: Redis;
  bus: EventBus;
  queue: GenerationQueue;
  webhookQueue: WebhookQueue;
  blobs: BlobStore;
  /** Waiting + delayed generation jobs, sampled at most once a second (admission control). */
  admissionQueueDepth(): Promise<number>;
  /** /readyz: Postgres, Redis, migrations. */
  ready: Probes["ready"];
}

async function createBlobStore(config: AppConfig, ds: DataSource): Promise<BlobStore> {
  if (config.files.store === "postgres") return new PostgresBlobStore(ds);
  const s3 = new S3BlobStore({ ...config.files.s3, keyPrefix: "media/" });
  await s3.ensureBucket();
  return s3;
}

export async function createInfrastructure(config: AppConfig, opts: InfrastructureOptions, cleanup: CleanupStack): Promise<Infrastructure> {
  const log = opts.logger ?? createLogger(config.log.level, {}, { traceIds: !!config.tracing.endpoint, pretty: wantsPrettyLogs(config.env) });
  const metrics = createMetrics({ defaultMetrics: true });
  const ds = await connectPostgres({ url: config.db.url, poolSize: config.db.poolSize, create: !!opts.createDatabase, onQuery: opts.onQuery, preparedStatements: config.db.preparedStatements });
  // Tracing (OTEL_EXPORTER_OTLP_ENDPOINT) stops last: what the shutdown itself traced is flushed.
  if (config.tracing.endpoint) {
    const stopTracing = await startTracing({ ...config.tracing, endpoint: config.tracing.endpoint }).catch(async (err) => {
      await ds.destroy().catch(() => undefined);
      throw err;
    });
    cleanup.defer(stopTracing);
  }
  cleanup.defer(() => ds.destroy());
  await assertMigrated(ds);
  // Analytics may read from a replica; everything else uses the primary.
  const readDs = config.db.readUrl ? await connectPostgres({ url: config.db.readUrl, poolSize: config.db.poolSize, create: false }) : ds;
  if (readDs !== ds) cleanup.defer(() => readDs.destroy());
  const cluster = { clusterNodes: config.redis.clusterNodes };
  const redis = await connectRedis(config.redis.url, "switchboard", cluster);
  cleanup.defer(() => redis.quit());
  const subscriber = await connectRedis(config.redis.url, "switchboard-sub", cluster);
  cleanup.defer(() => subscriber.quit());
  // Events, breakers, key pools and fairness leases go out on their own auto-pipelined connection:
  // concurrent small commands share one write.
  const publisher = await connectRedis(config.redis.url, "switchboard-pub", { autoPipelining: true, ...cluster });
  cleanup.defer(() => publisher.quit());
  const bus = new EventBus(new RedisPubSub({ publisher, subscriber }), publisher, config.redis.prefix);
  const blobs = await createBlobStore(config, ds);
  const queue = new GenerationQueue({ connection: redis, prefix: config.redis.prefix, attempts: config.worker.attempts });
  cleanup.defer(() => queue.close());
  const cacheRedis = config.cache.redisUrl || config.cache.redisClusterNodes.length
    ? await connectRedis(config.cache.redisUrl ?? config.redis.url, "switchboard-cache", { autoPipelining: true, clusterNodes: config.cache.redisClusterNodes, clusterEnv: "CACHE_REDIS_CLUSTER_NODES" })
    : publisher;
  if (cacheRedis !== publisher) cleanup.defer(() => cacheRedis.quit());
  const webhookQueue = new WebhookQueue({ connection: redis, prefix: config.redis.prefix, maxAttempts: config.webhooks.maxAttempts });
  cleanup.defer(() => webhookQueue.close());

  let sampledDepth = { at: 0, n: 0 };
  return {
    log, metrics, ds, readDs, redis, publisher, cacheRedis, bus, queue, webhookQueue, blobs,
    async admissionQueueDepth() {
      if (Date.now() - sampledDepth.at > 1000) {
        const d = await queue.depth();
        sampledDepth = { at: Date.now(), n: d.waiting + d.delayed };
      }
      return sampledDepth.n;
    },
    ready: readinessProbe({
      postgres: () => pingPostgres(ds),
      redis: () => redis.ping(),
      pendingMigrations: () => pendingMigrations(ds),
    }),
  };
}
