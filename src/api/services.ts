import type { AppConfig } from "../config/config";
import type { ApiKeyService } from "../domain/auth/api-key.service";
import type { GenerationService } from "../domain/generations/generation.service";
import type { QuotaService } from "../domain/quotas/quota.service";
import type { ExactCacheService } from "../domain/cache/exact-cache.service";
import type { SemanticCacheService } from "../domain/cache/semantic-cache.service";
import type { ProviderRegistry } from "../providers/registry";
import type { ModelCatalog } from "../domain/catalog/model-catalog";
import type { EventBus } from "../realtime/event-bus";
import type { Loaders } from "./loaders/loaders";
import type { ProviderService } from "../domain/providers/provider.service";
import type { AlertsService } from "../domain/providers/alerts.service";
import type { Router } from "../domain/routing/router";
import type { HealthService } from "../domain/monitoring/health.service";
import type { WebhookService } from "../domain/webhooks/webhook.service";
import type { CircuitBreakers } from "../domain/resilience/circuit-breaker";
import type { SimulatedFaults } from "../domain/providers/simulated-faults";
import type { AnalyticsService } from "../domain/analytics/analytics.service";
import type { AccountService } from "../domain/auth/account.service";
import type { QueueControl } from "../domain/generations/queue-control";
import type { QueuePositions } from "../domain/generations/queue-control-positions";

/** What resolvers may call: domain services built once in the composition root. */
export interface Services {
  config: AppConfig;
  generations: GenerationService;
  apiKeys: ApiKeyService;
  /** Users and keys as a viewer may manage them (GraphQL and the CLI). */
  accounts: AccountService;
  quotas: QuotaService;
  cache: ExactCacheService;
  semantic: SemanticCacheService;
  registry: ProviderRegistry;
  /** The shared model catalog: discovery, refreshModels, unpriced and tier-price policy. */
  catalog: ModelCatalog;
  providers: ProviderService;
  alerts: AlertsService;
  health: HealthService;
  router: Router;
  webhooks: WebhookService;
  breakers: CircuitBreakers;
  faults: SimulatedFaults;
  /** Queue controls (pause, resume, clear, status), admins only. */
  queue: QueueControl;
  /** A QUEUED generation's queuePosition and estimatedStartAt. */
  queuePositions: QueuePositions;
  /** The `metrics` query (reads DATABASE_READ_URL when set). */
  analytics: AnalyticsService;
  bus: EventBus;
  /** HMAC secret for /files URLs. */
  filesSecret: string;
  /** Fresh DataLoaders, per operation (a subscription is one operation: it refreshes them per event). */
  newLoaders(): Loaders;
}
