/** Spend: the quota bar (used, reserved, remaining, warning threshold; live), and metrics charts. */
import { useState } from "preact/hooks";
import { gql, type Me } from "../api";
import { Bar, Card, ErrorLine } from "../components";
import { LineChart } from "../chart";
import { ms, pct, quotaBar, relative, usd } from "../format";
import { usePoll, useSubscription } from "../hooks";

const QUOTA_FIELDS = `userId tier limitUsd spentUsd reservedUsd remainingUsd requests periodStart periodEnd warnAtUsd`;
const QUOTA = `query DashboardQuota { quota { ${QUOTA_FIELDS} } }`;
const LIVE = `subscription DashboardQuotaUpdated { quotaUpdated { type quota { ${QUOTA_FIELDS} } } }`;
const STATS = `requests succeeded failed costUsd successRate cacheHitRate latencyMs { p50 p95 samples }`;
const METRICS = `query DashboardMetrics($from: DateTime!) {
  byDay: metrics(from: $from, groupBy: DAY) { groups { key stats { ${STATS} } } total { ${STATS} } topModelsByCost { key stats { ${STATS} } } topModelsByUse { key stats { ${STATS} } } }
  byModel: metrics(from: $from, groupBy: MODEL) { groups { key stats { ${STATS} } } }
  byProvider: metrics(from: $from, groupBy: PROVIDER) { groups { key stats { ${STATS} } } }
}`;

interface Quota { limitUsd: number; spentUsd: number; reservedUsd: number; remainingUsd: number; requests: number; tier: string; periodEnd: string; warnAtUsd: number | null }
interface Stats { requests: number; succeeded: number; failed: number; costUsd: number; successRate: number; cacheHitRate: number; latencyMs: { p50: number | null; p95: number | null; samples: number } }
interface Group { key: string | null; stats: Stats }

function GroupTable({ groups, label, id }: { groups: Group[]; label: string; id: string }) {
  const max = Math.max(0, ...groups.map((g) => g.stats.costUsd));
  return (
    <table class="table" id={id}>
      <thead><tr><th>{label}</th><th class="num">requests</th><th class="num">success</th><th class="num">cost</th><th class="wide" /><th class="num">p50</th><th class="num">p95</th></tr></thead>
      <tbody>
        {groups.length === 0 && <tr><td colSpan={7} class="muted">No generations in this window.</td></tr>}
        {groups.map((g) => (
          <tr key={g.key ?? "none"}>
            <td>{g.key ?? "—"}</td><td class="num">{g.stats.requests}</td><td class="num">{pct(g.stats.successRate)}</td><td class="num">{usd(g.stats.costUsd)}</td>
            <td><Bar share={max ? g.stats.costUsd / max : 0} /></td><td class="num">{ms(g.stats.latencyMs.p50)}</td><td class="num">{ms(g.stats.latencyMs.p95)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SpendPage(_: { me: Me }) {
  const [days, setDays] = useState(14);
  const [warning, setWarning] = useState(false);
  const quota = usePoll(() => gql<{ quota: Quota }>(QUOTA).then((d) => d.quota), 30_000);
  const subError = useSubscription<{ type: string; quota: Quota }>(LIVE, {}, (ev) => {
    quota.setData(ev.quota);
    if (ev.type === "QUOTA_WARNING") setWarning(true);
  });
  const from = new Date(Date.now() - days * 86_400_000);
  from.setUTCHours(0, 0, 0, 0);
  const metrics = usePoll(() => gql<{ byDay: { groups: Group[]; total: Stats; topModelsByCost: Group[]; topModelsByUse: Group[] }; byModel: { groups: Group[] }; byProvider: { groups: Group[] } }>(METRICS, { from: from.toISOString() }), 30_000, [days]);
  const q = quota.data;
  const bar = q && quotaBar(q, q.warnAtUsd != null && q.limitUsd > 0 ? q.warnAtUsd / q.limitUsd : null);
  const day = metrics.data?.byDay;
  const x = (day?.groups ?? []).map((g) => Date.parse(g.key!) / 1000);
  const range: [number, number] = [from.getTime() / 1000, from.getTime() / 1000 + (days + 1) * 86_400]; // stable within a day (no redraw per render)

  return (
    <div class="page" data-page="spend">
      <Card title="Budget this period">
        <ErrorLine error={quota.error ?? subError} />
        {q && bar && (
          <div id="quota">
            <div class={`quota-bar ${bar.warning ? "warn" : ""}`}>
              <Bar share={bar.spent + bar.reserved} kind={bar.warning ? "warn" : ""} />
            </div>
            <dl class="facts">
              <dt>tier</dt><dd>{q.tier}</dd>
              <dt>limit</dt><dd>{usd(q.limitUsd)}</dd>
              <dt>spent</dt><dd data-figure="spent">{usd(q.spentUsd)}</dd>
              <dt>reserved</dt><dd data-figure="reserved">{usd(q.reservedUsd)} <span class="muted">(in flight, worst case)</span></dd>
              <dt>remaining</dt><dd data-figure="remaining">{usd(q.remainingUsd)}</dd>
              <dt>warning at</dt><dd data-figure="warn">{q.warnAtUsd != null ? `${usd(q.warnAtUsd)} (${pct(bar.warnAt)})` : "—"}</dd>
              <dt>requests</dt><dd>{q.requests}</dd>
              <dt>resets</dt><dd>{relative(q.periodEnd)}</dd>
            </dl>
            {(bar.warning || warning) && <p class="warn-text" role="status">Spent + reserved has crossed the warning threshold ({pct(bar.used)} of the limit).</p>}
          </div>
        )}
      </Card>
      <Card title="Cost and latency by day" actions={
        <select value={String(days)} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
          <option value="7">7 days</option><option value="14">14 days</option><option value="30">30 days</option><option value="90">90 days</option>
        </select>
      }>
        <ErrorLine error={metrics.error} />
        {day && (
          <>
            <p class="muted">Total: {day.total.requests} requests · {usd(day.total.costUsd)} · success {pct(day.total.successRate)} · cache hits {pct(day.total.cacheHitRate)} · p50 {ms(day.total.latencyMs.p50)} · p95 {ms(day.total.latencyMs.p95)}</p>
            {x.length > 0 ? (
              <div class="charts">
                <LineChart id="chart-cost" x={x} range={range} series={[{ label: "cost (USD)", values: day.groups.map((g) => g.stats.costUsd), color: "#2563eb", format: (v) => usd(v) }]} />
                <LineChart id="chart-latency" x={x} range={range} series={[
                  { label: "p50", values: day.groups.map((g) => g.stats.latencyMs.p50), color: "#059669", format: (v) => ms(v) },
                  { label: "p95", values: day.groups.map((g) => g.stats.latencyMs.p95), color: "#d97706", format: (v) => ms(v) },
                ]} />
              </div>
            ) : <p class="muted">No generations in this window.</p>}
          </>
        )}
      </Card>
      <Card title="By model"><GroupTable id="by-model" label="model" groups={metrics.data?.byModel.groups ?? []} /></Card>
      <Card title="By provider"><GroupTable id="by-provider" label="provider" groups={metrics.data?.byProvider.groups ?? []} /></Card>
      <Card title="Top models">
        <div class="two">
          <div><h3>by cost</h3><ol id="top-by-cost">{(day?.topModelsByCost ?? []).map((g) => <li key={g.key}>{g.key} — {usd(g.stats.costUsd)}</li>)}</ol></div>
          <div><h3>by use</h3><ol id="top-by-use">{(day?.topModelsByUse ?? []).map((g) => <li key={g.key}>{g.key} — {g.stats.requests} requests</li>)}</ol></div>
        </div>
      </Card>
    </div>
  );
}
