/**
 * API mode: the GraphQL schema and the one http.Server; a revoked API key's sockets close
 * the moment any replica revokes it.
 */
import { buildAppSchema } from "../api/schema";
import type { AppConfig } from "../config/config";
import { createHttpServer, type HttpServer } from "../http/server";
import { bullBoardQueues, type BullBoardQueues } from "../jobs/bull-board-queues";
import { Topic } from "../realtime/topics";
import type { CleanupStack } from "./cleanup";
import type { Infrastructure } from "./infrastructure";
import type { AppServices } from "./services";

export async function createApi(config: AppConfig, infra: Infrastructure, svc: AppServices, cleanup: CleanupStack): Promise<HttpServer> {
  const { bus, log, metrics, queue, blobs } = infra;
  const { services } = svc;
  const schema = await buildAppSchema();
  let board: BullBoardQueues | undefined;
  cleanup.defer(() => board?.close());
  const http = await createHttpServer({
    config, schema, services, blobs, log, metrics,
    probes: svc.probes,
    promoteJob: (id) => queue.promote(id),
    bullBoardQueues: () => (board ??= bullBoardQueues({ generations: queue.queue, webhooks: infra.webhookQueue.queue, connection: infra.redis, prefix: config.redis.prefix })),
  });
  const unsubscribe = await bus.subscribe(Topic.API_KEY_REVOKED, undefined, ({ keyId, keyHash }) => {
    services.apiKeys.purge(keyHash);
    const closed = http.closeSocketsForKey(keyId);
    if (closed) log.info({ keyId, closed }, "closed sockets of a revoked API key");
  });
  cleanup.defer(unsubscribe);
  // A rotation's overlap, a tier change or a disabled user: the key's sockets close now or at its expiry.
  const unsubscribeChanged = await bus.subscribe(Topic.API_KEY_CHANGED, undefined, ({ keyId, keyHash, expiresAt, closeNow }) => {
    services.apiKeys.purge(keyHash);
    if (closeNow) {
      const closed = http.closeSocketsForKey(keyId, closeNow);
      if (closed) log.info({ keyId, closed, why: closeNow }, "closed sockets of an API key that stopped");
    } else if (expiresAt) http.expireSocketsForKey(keyId, new Date(expiresAt));
  });
  cleanup.defer(unsubscribeChanged);
  return http;
}
