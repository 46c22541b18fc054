/**
 * Providers: health, circuits (live through circuitStateChanged, plus a poll for health and key
 * pools), key pools (state, cooldown, in flight) and the admin controls the API offers.
 */
import { useState } from "preact/hooks";
import { gql, type Me } from "../api";
import { Card, ErrorLine } from "../components";
import { cooldownLeft, ms, pct, relative } from "../format";
import { useAction, usePoll, useSubscription } from "../hooks";
import { mergeEvents } from "../state";

const CIRCUIT = `provider model state forced consecutiveFailures windowCalls windowFailures openedAt nextProbeAt`;
const PROVIDERS = `query DashboardProviders($admin: Boolean!) {
  providers { id name kind configured simulated health { status latencyMs message checkedAt } circuits { ${CIRCUIT} }
    keys @include(if: $admin) { label last4 state source cooldownUntil inFlight health requests errors rateLimited disabledReason } }
  circuitEvents(first: 15) { provider model from to reason at }
}`;
const LIVE = `subscription DashboardCircuits { circuitStateChanged { provider model from to reason at } }`;
const FORCE_OPEN = `mutation DashboardForceOpen($provider: ID!, $model: String) { forceOpenCircuit(provider: $provider, model: $model) { ${CIRCUIT} } }`;
const RESET = `mutation DashboardReset($provider: ID!, $model: String) { resetCircuit(provider: $provider, model: $model) { ${CIRCUIT} } }`;
const ENABLE = `mutation DashboardEnableKey($provider: ID!, $label: String!) { enableProviderKey(provider: $provider, label: $label) { id } }`;
const DISABLE = `mutation DashboardDisableKey($provider: ID!, $label: String!) { disableProviderKey(provider: $provider, label: $label) { id } }`;

interface Circuit { provider: string; model: string | null; state: string; forced: boolean; consecutiveFailures: number; windowCalls: number; windowFailures: number; openedAt: string | null; nextProbeAt: string | null }
interface CircuitEvent { provider: string; model: string | null; from: string; to: string; reason: string; at: string }

export function ProvidersPage({ me }: { me: Me }) {
  const admin = me.role === "ADMIN";
  const data = usePoll(() => gql<{ providers: any[]; circuitEvents: CircuitEvent[] }>(PROVIDERS, { admin }), 5000, [admin]);
  const [live, setLive] = useState<CircuitEvent[]>([]);
  // A transition updates its circuit at once; the follow-up read fills in the counters.
  const subError = useSubscription<CircuitEvent>(LIVE, {}, (ev) => {
    setLive((l) => [ev, ...l].slice(0, 20));
    data.setData((d) => d && {
      ...d,
      providers: d.providers.map((p) => p.id !== ev.provider ? p : {
        ...p, circuits: p.circuits.map((c: Circuit) => ((c.model ?? null) === (ev.model ?? null) ? { ...c, state: ev.to } : c)),
      }),
    });
    void data.reload();
  });
  const act = useAction();
  const run = (q: string, v: Record<string, unknown>) => void act.run(async () => { await gql(q, v); await data.reload(); });
  const events = mergeEvents(live, data.data?.circuitEvents ?? []);

  return (
    <div class="page" data-page="providers">
      <ErrorLine error={data.error ?? subError ?? act.error} />
      {(data.data?.providers ?? []).map((p) => (
        <Card key={p.id} title={`${p.name} (${p.id})`}>
          <p class="muted">{p.kind}{p.simulated ? " · simulated" : ""} · health <b data-health={p.id}>{p.health.status}</b> {p.health.latencyMs != null ? ms(p.health.latencyMs) : ""} {p.health.message ?? ""}</p>
          <table class="table" data-provider={p.id}>
            <thead><tr><th>circuit</th><th>state</th><th class="num">failures</th><th class="num">window</th><th>opened</th><th>next probe</th>{admin && <th />}</tr></thead>
            <tbody>
              {p.circuits.map((c: Circuit) => (
                <tr key={c.model ?? "*"} data-circuit={`${c.provider}/${c.model ?? "*"}`} data-state={c.state}>
                  <td>{c.model ?? "provider-wide"}</td>
                  <td><span class={`circuit circuit-${c.state.toLowerCase()}`}>{c.state}</span>{c.forced ? " (forced)" : ""}</td>
                  <td class="num">{c.consecutiveFailures}</td>
                  <td class="num">{c.windowFailures}/{c.windowCalls}</td>
                  <td>{relative(c.openedAt)}</td>
                  <td>{relative(c.nextProbeAt)}</td>
                  {admin && (
                    <td class="actions">
                      <button class="small danger" disabled={act.busy} data-action="force-open" onClick={() => run(FORCE_OPEN, { provider: p.id, model: c.model })}>Force open</button>
                      <button class="small" disabled={act.busy} data-action="reset" onClick={() => run(RESET, { provider: p.id, model: c.model })}>Reset</button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          {admin && p.keys && (
            <table class="table" data-keys={p.id}>
              <thead><tr><th>key</th><th>state</th><th>cooldown</th><th class="num">in flight</th><th class="num">health</th><th class="num">requests</th><th class="num">errors</th><th /></tr></thead>
              <tbody>
                {p.keys.length === 0 && <tr><td colSpan={8} class="muted">No keys in the pool.</td></tr>}
                {p.keys.map((k: any) => (
                  <tr key={k.label} data-key={k.label} data-state={k.state}>
                    <td>{k.label} <span class="muted">…{k.last4} · {k.source}</span></td>
                    <td>{k.state}{k.disabledReason ? ` (${k.disabledReason})` : ""}</td>
                    <td>{cooldownLeft(k.cooldownUntil) ? `${cooldownLeft(k.cooldownUntil)} s` : "—"}</td>
                    <td class="num">{k.inFlight}</td>
                    <td class="num">{pct(k.health)}</td>
                    <td class="num">{k.requests}</td>
                    <td class="num">{k.errors} ({k.rateLimited} × 429)</td>
                    <td>{k.state === "DISABLED"
                      ? <button class="small" disabled={act.busy} onClick={() => run(ENABLE, { provider: p.id, label: k.label })}>Enable</button>
                      : <button class="small danger" disabled={act.busy} onClick={() => run(DISABLE, { provider: p.id, label: k.label })}>Disable</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
      ))}
      <Card title="Circuit transitions">
        <table class="table" id="circuit-events">
          <thead><tr><th>when</th><th>circuit</th><th>from → to</th><th>reason</th></tr></thead>
          <tbody>
            {events.map((e) => (
              <tr key={`${e.at}-${e.provider}-${e.model}-${e.to}`}><td>{relative(e.at)}</td><td>{e.provider}/{e.model ?? "*"}</td><td>{e.from} → <b>{e.to}</b></td><td>{e.reason}</td></tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
