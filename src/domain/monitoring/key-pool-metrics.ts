/**
 * Key pool gauges, refreshed at scrape time from the pools' shared state in Redis: health,
 * in-flight calls and state per provider key. Every process answers with the same figures
 * (they are cluster-wide); dashboards take `max by (provider, label)`.
 */
import type { DataSource } from "typeorm";
import type { Metrics } from "../../observability/metrics";
import { ProviderKeyStore } from "../providers/provider-key.store";
import type { ProviderService } from "../providers/provider.service";

const STATE = { ACTIVE: 0, COOLING_DOWN: 1, DISABLED: 2 } as const;

export async function sampleKeyPools(ds: DataSource, providers: ProviderService, metrics: Metrics): Promise<void> {
  // Providers with a key in the pool, and those whose stored keys are all disabled (still shown).
  const stored = await new ProviderKeyStore(ds).providers();
  const ids = new Set([
    ...providers.registry.listProviders(true).map((p) => p.id).filter((id) => providers.keys.keyCount(id) > 0),
    ...stored,
  ]);
  const described = await Promise.all([...ids].map(async (id) => [id, await providers.keys.describe(id)] as const));
  metrics.keyHealth.reset();
  metrics.keyInFlight.reset();
  metrics.keyState.reset();
  for (const [provider, keys] of described)
    for (const k of keys) {
      metrics.keyHealth.set({ provider, label: k.label }, k.health);
      metrics.keyInFlight.set({ provider, label: k.label }, k.inFlight);
      metrics.keyState.set({ provider, label: k.label }, STATE[k.state]);
    }
}
