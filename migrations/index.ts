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

/** Every migration, listed explicitly (TypeORM's glob loading breaks under vitest). */
export const migrations = [Initial1732370000000, Quotas1732380000000, Cache1732390000000, SemanticCache1732400000000, ActiveByUser1732410000000, Coalescing1732420000000, Deadlines1732430000000, RoutingAndKeys1732440000000, Webhooks1732450000000, Analytics1732460000000, Circuits1732470000000, AttemptsByTime1732480000000, WebhookReconcileCursor1732490500000, EventSeq1732490700000, IdempotencyRequestHash1732490900000, GenerationSource1732491100000];
