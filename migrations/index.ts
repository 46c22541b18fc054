import { Initial1732370000000 } from "./1732370000000-initial";
import { Quotas1732380000000 } from "./1732380000000-quotas";
import { Cache1732390000000 } from "./1732390000000-cache";
import { SemanticCache1732400000000 } from "./1732400000000-semantic-cache";
import { ActiveByUser1732410000000 } from "./1732410000000-active-by-user";
import { Coalescing1732420000000 } from "./1732420000000-coalescing";
import { Deadlines1732430000000 } from "./1732430000000-deadlines";
import { RoutingAndKeys1732440000000 } from "./1732440000000-routing-and-keys";
import { Webhooks1732450000000 } from "./1732450000000-webhooks";
import { Analytics1732460000000 } from "./1732460000000-analytics";
import { Circuits1732470000000 } from "./1732470000000-circuits";
import { AttemptsByTime1732480000000 } from "./1732480000000-attempts-by-time";
import { EventSeq1732490700000 } from "./1732490700000-event-seq";
import { WebhookReconcileCursor1732490500000 } from "./1732490500000-webhook-reconcile-cursor";
import { IdempotencyRequestHash1732490900000 } from "./1732490900000-idempotency-request-hash";
import { GenerationSource1732491100000 } from "./1732491100000-generation-source";
import { KeyLimits1732491200000 } from "./1732491200000-key-limits";
import { KeyRotation1796182556620 } from "./1796182556620-key-rotation";
import { KeySpend1732491300000 } from "./1732491300000-key-spend";
import { GenerationBackground1796181430208 } from "./1796181430208-generation-background";
import { GenerationModeration1796194794740 } from "./1796194794740-generation-moderation";
import { DiscoveredModels1796181958512 } from "./1796181958512-discovered-models";
import { ProviderBatches1796195000000 } from "./1796195000000-provider-batches";
import { SemanticCacheEmbedder1796196000000 } from "./1796196000000-semantic-cache-embedder";

/** Every migration, listed explicitly (TypeORM's glob loading breaks under vitest). */
export const migrations = [Initial1732370000000, Quotas1732380000000, Cache1732390000000, SemanticCache1732400000000, ActiveByUser1732410000000, Coalescing1732420000000, Deadlines1732430000000, RoutingAndKeys1732440000000, Webhooks1732450000000, Analytics1732460000000, Circuits1732470000000, AttemptsByTime1732480000000, WebhookReconcileCursor1732490500000, EventSeq1732490700000, IdempotencyRequestHash1732490900000, GenerationSource1732491100000, KeyLimits1732491200000, KeySpend1732491300000, GenerationBackground1796181430208, DiscoveredModels1796181958512, KeyRotation1796182556620, ProviderBatches1796195000000, GenerationModeration1796194794740, SemanticCacheEmbedder1796196000000];
