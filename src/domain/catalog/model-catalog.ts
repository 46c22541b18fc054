/**
 * The model catalog every node serves: built-in and providers-file models plus what each
 * configured provider's own model list says (discovery), priced as compose.ts says.
 *
 * Discovery runs at start and every MODEL_REFRESH_INTERVAL_MS on one node at a time (whichever
 * takes the Redis lock for the period), on refreshModels(provider), and after a finished Ollama
 * pull. Its result lands in Postgres (discovered_models, owned by DiscoveredModelStore); the node
 * that refreshed broadcasts CATALOG_CHANGED and every node reloads the table into its registry
 * (and every 30 s anyway, in case a broadcast was missed while Redis was away).
 */
import { ServiceUnavailableError } from "../../common/errors";
import type { AppConfig, Tier } from "../../config/config";
import type { GenerationProvider, ModelInfo } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import type { Logger } from "../../observability/logger";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import type { ProviderSetup } from "../providers/provider-setup";
import { isUnpriced } from "../generations/pricing";
import { composeCatalog, unpricedRefusal } from "./compose";
import type { DiscoveredModelStore } from "./discovered-model.store";

/** How often every node re-reads the shared table without a broadcast, ms. */
const RELOAD_EVERY_MS = 30_000;
/** The longest one provider's list may take. */
const LIST_TIMEOUT_MS = 30_000;

type CatalogConfig = Pick<AppConfig["providers"], "modelRefreshIntervalMs" | "unpricedModels" | "unpricedReserveUsd" | "freeTierMaxPricePerMTok">;

export interface ModelCatalogDeps {
  registry: ProviderRegistry;
  setup: Pick<ProviderSetup, "models" | "defs" | "providers">;
  store: DiscoveredModelStore;
  /** SET NX for the refresh lock. */
  redis: { set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<unknown> };
  prefix: string;
  bus: EventBus;
  log: Logger;
  cfg: CatalogConfig;
  /** A key of the provider's pool for the list call (undefined for local servers). */
  keyFor(provider: string): string | undefined;
  configured(provider: string): boolean;
}

export interface RefreshResult {
  provider: string;
  models: ModelInfo[];
  added: number;
  removed: number;
}

export class ModelCatalog {
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe?: () => void;
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly d: ModelCatalogDeps) {}

  async start(): Promise<void> {
    await this.reload();
    this.unsubscribe = await this.d.bus.subscribe(Topic.CATALOG_CHANGED, undefined, () => void this.reload().catch((err) => this.d.log.warn({ err }, "reloading the model catalog failed")));
    const reload = setInterval(() => void this.reload().catch(() => undefined), RELOAD_EVERY_MS);
    reload.unref();
    this.timers.push(reload);
    const every = this.d.cfg.modelRefreshIntervalMs;
    if (every > 0) {
      const tick = () => void this.tick(every).catch((err) => this.d.log.warn({ err }, "model discovery failed"));
      const t = setInterval(tick, every);
      t.unref();
      this.timers.push(t);
      tick();
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribe?.();
  }

  /** One node per period (the Redis lock lives as long as the period) refreshes every provider that has a list. */
  async tick(periodMs: number): Promise<boolean> {
    const mine = await this.d.redis.set(`${this.d.prefix}:catalog:refresh-lock`, "1", "PX", periodMs, "NX");
    if (!mine) return false;
    for (const p of this.listable()) {
      await this.refresh(p.id).catch((err) => this.d.log.warn({ err, provider: p.id }, "reading a provider's model list failed; its previous list stays"));
    }
    return true;
  }

  /** Providers discovery can read now: configured, not simulated, with a list. */
  listable(): GenerationProvider[] {
    return this.d.setup.providers.filter((p) => !p.simulated && !!p.listModels && this.d.configured(p.id));
  }

  /** Reads one provider's list now, stores it for every node, and returns the provider's models. */
  async refresh(provider: string): Promise<RefreshResult> {
    const p = this.d.setup.providers.find((x) => x.id === provider);
    if (!p?.listModels) throw new ServiceUnavailableError(`provider ${provider} has no model list to read`);
    if (!this.d.configured(provider)) throw new ServiceUnavailableError(`provider ${provider} is not configured (no key, or no base URL for a local server)`);
    let listed;
    try {
      listed = await p.listModels({ apiKey: this.d.keyFor(provider), signal: AbortSignal.timeout(LIST_TIMEOUT_MS) });
    } catch (e) {
      throw new ServiceUnavailableError(`reading ${provider}'s model list failed: ${(e as Error).message.slice(0, 300)}`);
    }
    const seen = new Set<string>();
    const unique = listed.filter((m) => !seen.has(m.name) && seen.add(m.name));
    const { added, removed } = await this.d.store.replace(provider, unique);
    await this.reload();
    await this.d.bus.publish(Topic.CATALOG_CHANGED, undefined, { provider }).catch((err) => this.d.log.warn({ err }, "broadcasting a catalog change failed (other nodes reload within 30 s)"));
    if (added || removed) this.d.log.info({ provider, listed: unique.length, added, removed }, "model catalog updated from the provider's list");
    return { provider, models: this.d.registry.modelsOf(provider), added, removed };
  }

  /** Re-reads the shared table into this node's registry (reloads run one after another). */
  reload(): Promise<void> {
    const next = this.reloading.then(async () => {
      const rows = await this.d.store.all();
      const allow = this.d.cfg.unpricedModels === "allow";
      this.d.registry.replaceModels(composeCatalog(this.d.setup.models, rows, {
        isLocal: (id) => this.d.setup.defs[id]?.requiresKey === false,
        unpricedReserveMicros: allow ? Math.round(this.d.cfg.unpricedReserveUsd * 1_000_000) : undefined,
      }));
    });
    this.reloading = next.catch(() => undefined);
    return next;
  }

  /** Why a model may not be used at all: unpriced under UNPRICED_MODELS=deny. */
  refusal(m: ModelInfo): string | undefined {
    return this.d.cfg.unpricedModels === "deny" && isUnpriced(m) ? unpricedRefusal(m) : undefined;
  }

  /** The free tier's price cap (FREE_TIER_MAX_PRICE_PER_MTOK) on token-priced models; asked only when the providers file lists no models for the tier. */
  tierPriceRefusal(tier: Tier, m: ModelInfo): string | undefined {
    const cap = this.d.cfg.freeTierMaxPricePerMTok;
    if (tier !== "free" || cap <= 0 || (m.modality !== "TEXT" && m.modality !== "EMBEDDING")) return undefined;
    if (isUnpriced(m)) return `your tier (free) may not use ${m.id}: it has no known price, and the free tier may use models up to $${cap} per 1M tokens (FREE_TIER_MAX_PRICE_PER_MTOK)`;
    // micro-USD per 1k tokens / 1000 = USD per 1M tokens
    const perM = Math.max(m.pricing.inputPer1kTokens ?? 0, m.pricing.outputPer1kTokens ?? 0) / 1000;
    return perM > cap
      ? `your tier (free) may not use ${m.id}: it costs up to $${perM} per 1M tokens, above the free tier's $${cap} (FREE_TIER_MAX_PRICE_PER_MTOK; a providers file "tiers": { "free": [...] } list replaces the cap)`
      : undefined;
  }
}
