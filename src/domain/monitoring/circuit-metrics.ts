/**
 * The provider-wide circuit state gauge, read from the breakers' shared state in Redis: at
 * start and at every scrape, for every configured provider. Between scrapes each process's
 * gauge also follows every node's transitions (pub/sub), so a circuit another node opened
 * before this process started shows as open here too, not only after a transition seen here.
 */
import type { Metrics } from "../../observability/metrics";
import type { ProviderRegistry } from "../../providers/registry";
import type { CircuitBreakers, CircuitState } from "../resilience/circuit-breaker";

export const CIRCUIT_GAUGE: Record<CircuitState, number> = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 };

export async function sampleCircuits(breakers: CircuitBreakers, registry: ProviderRegistry, metrics: Metrics): Promise<void> {
  const ids = registry.listProviders().map((p) => p.id);
  const views = await Promise.all(ids.map((id) => breakers.view(id)));
  for (const v of views) metrics.circuitState.set({ provider: v.provider }, CIRCUIT_GAUGE[v.state]);
}
