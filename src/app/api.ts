/**
 * API mode: the GraphQL schema and the one http.Server; a revoked API key's sockets close
 * the moment any replica revokes it.
 */
import { buildAppSchema } from "../api/schema";
import type { AppConfig } from "../config/config";
import { createHttpServer, type HttpServer } from "../http/server";
import { Topic } from "../realtime/topics";
import type { CleanupStack } from "./cleanup";
import type { Infrastructure } from "./infrastructure";
import type { AppServices } from "./services";

export async function createApi(config: AppConfig, infra: Infrastructure, svc: AppServices, cleanup: CleanupStack): Promise<HttpServer> {
  const { bus, log, metrics, queue, blobs } = infra;
  const { services } = svc;
  const schema = await buildAppSchema();
  const http = await createHttpServer({
    config, schema, services, blobs, log, metrics,
    probes: svc.probes,
    promoteJob: (id) => queue.promote(id),
  });
  const unsubscribe = await bus.subscribe(Topic.API_KEY_REVOKED, undefined, ({ keyId, keyHash }) => {
    services.apiKeys.purge(keyHash);
    const closed = http.closeSocketsForKey(keyId);
    if (closed) log.info({ keyId, closed }, "closed sockets of a revoked API key");
  });
  cleanup.defer(unsubscribe);
  return http;
}
