/**
 * Admin: users, API keys (create, rotate with overlap, revoke), the queue (depth by priority,
 * pause/resume/clear), alerts, and a short-lived link to Bull Board. Each section has its own
 * query, so one failing section shows its error without blanking the others.
 */
import { useState } from "preact/hooks";
import { gql, type Me } from "../api";
import { Card, ErrorLine } from "../components";
import { relative } from "../format";
import { useAction, usePoll, useSubscription } from "../hooks";
import { priorityRows } from "../state";

const USERS = `query DashboardUsers { users(first: 100) { edges { node { id email role tier disabledAt createdAt } } } }`;
const CREATE_USER = `mutation DashboardCreateUser($email: String!, $role: Role!, $tier: Tier!) { createUser(email: $email, role: $role, tier: $tier) { user { id email } secret } }`;
const UPDATE_USER = `mutation DashboardUpdateUser($id: ID!, $tier: Tier, $disabled: Boolean) { updateUser(id: $id, tier: $tier, disabled: $disabled) { id tier disabledAt } }`;
const KEYS = `query DashboardKeys { apiKeys { id label prefix status createdAt revokedAt expiresAt } }`;
const CREATE_KEY = `mutation DashboardCreateKey($label: String) { createApiKey(label: $label) { secret apiKey { id label prefix } } }`;
const ROTATE_KEY = `mutation DashboardRotateKey($id: ID!, $overlapSeconds: Int!) { rotateApiKey(id: $id, overlapSeconds: $overlapSeconds) { secret apiKey { id label prefix } previous { id expiresAt } } }`;
const REVOKE_KEY = `mutation DashboardRevokeKey($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const QUEUE = `query DashboardQueue { queue { paused pausedProviders waiting active delayed byPriority { priority count } } }`;
const PAUSE = `mutation DashboardPause($provider: String) { pauseQueue(provider: $provider) { paused } }`;
const RESUME = `mutation DashboardResume($provider: String) { resumeQueue(provider: $provider) { paused } }`;
const CLEAR = `mutation DashboardClear($filter: ClearQueueFilter) { clearQueue(filter: $filter) }`;
const ALERTS = `query DashboardAlerts { alerts(first: 20) { id kind severity provider message createdAt } }`;
const LIVE_ALERTS = `subscription DashboardAlertsLive { alerts { id kind severity provider message createdAt } }`;
const BULL_BOARD = `mutation DashboardBullBoard { bullBoardLink { url expiresAt } }`;

function Users() {
  const users = usePoll(() => gql<{ users: { edges: { node: any }[] } }>(USERS).then((d) => d.users.edges.map((e) => e.node)), 10_000);
  const act = useAction();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("USER");
  const [tier, setTier] = useState("FREE");
  const [secret, setSecret] = useState<string | null>(null);
  return (
    <Card title="Users">
      <ErrorLine error={users.error ?? act.error} />
      <form class="inline" id="create-user" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { const d = await gql(CREATE_USER, { email, role, tier }); setSecret(d.createUser.secret); setEmail(""); await users.reload(); }); }}>
        <label>Email <input name="email" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} /></label>
        <label>Role <select value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}><option>USER</option><option>ADMIN</option></select></label>
        <label>Tier <select value={tier} onChange={(e) => setTier((e.target as HTMLSelectElement).value)}><option>FREE</option><option>PRO</option><option>ENTERPRISE</option></select></label>
        <button type="submit" disabled={act.busy || !email}>Create user</button>
      </form>
      {secret && <p class="secret" id="new-user-key">First key (shown once): <code>{secret}</code></p>}
      <table class="table" id="users-table">
        <thead><tr><th>email</th><th>role</th><th>tier</th><th>state</th><th>created</th><th /></tr></thead>
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr key={u.id} data-user={u.email}>
              <td>{u.email}</td><td>{u.role}</td>
              <td><select value={u.tier} onChange={(e) => void act.run(async () => { await gql(UPDATE_USER, { id: u.id, tier: (e.target as HTMLSelectElement).value }); await users.reload(); })}><option>FREE</option><option>PRO</option><option>ENTERPRISE</option></select></td>
              <td>{u.disabledAt ? `disabled ${relative(u.disabledAt)}` : "active"}</td><td>{relative(u.createdAt)}</td>
              <td><button class={`small ${u.disabledAt ? "" : "danger"}`} disabled={act.busy} onClick={() => void act.run(async () => { await gql(UPDATE_USER, { id: u.id, disabled: !u.disabledAt }); await users.reload(); })}>{u.disabledAt ? "Enable" : "Disable"}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function Keys() {
  const keys = usePoll(() => gql<{ apiKeys: any[] }>(KEYS).then((d) => d.apiKeys), 10_000);
  const act = useAction();
  const [label, setLabel] = useState("");
  const [overlap, setOverlap] = useState(300);
  const [secret, setSecret] = useState<{ key: string; what: string } | null>(null);
  return (
    <Card title="My API keys">
      <ErrorLine error={keys.error ?? act.error} />
      <form class="inline" id="create-key" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { const d = await gql(CREATE_KEY, { label: label || null }); setSecret({ key: d.createApiKey.secret, what: "New key" }); setLabel(""); await keys.reload(); }); }}>
        <label>Label <input name="label" value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" disabled={act.busy}>Create key</button>
        <label>Rotation overlap (s) <input name="overlap" type="number" min="0" value={overlap} onInput={(e) => setOverlap(Number((e.target as HTMLInputElement).value))} /></label>
      </form>
      {secret && <p class="secret" id="new-key">{secret.what} (shown once): <code>{secret.key}</code></p>}
      <table class="table" id="keys-table">
        <thead><tr><th>label</th><th>prefix</th><th>created</th><th>expires</th><th>state</th><th /></tr></thead>
        <tbody>
          {(keys.data ?? []).map((k) => (
            <tr key={k.id} data-key-label={k.label ?? ""} data-status={k.status} data-revoked={k.revokedAt ? "yes" : "no"}>
              <td>{k.label ?? "—"}</td><td class="mono">{k.prefix}</td><td>{relative(k.createdAt)}</td><td>{relative(k.expiresAt)}</td>
              <td>{k.status}{k.revokedAt ? ` ${relative(k.revokedAt)}` : k.expiresAt ? ` (until ${new Date(k.expiresAt).toLocaleString()})` : ""}</td>
              <td class="actions">{k.status === "ACTIVE" && <>
                <button class="small" data-action="rotate" disabled={act.busy} onClick={() => void act.run(async () => { const d = await gql(ROTATE_KEY, { id: k.id, overlapSeconds: overlap }); setSecret({ key: d.rotateApiKey.secret, what: `Rotated key (the old one works ${overlap} s more)` }); await keys.reload(); })}>Rotate</button>
                <button class="small danger" data-action="revoke" disabled={act.busy} onClick={() => void act.run(async () => { await gql(REVOKE_KEY, { id: k.id }); await keys.reload(); })}>Revoke</button>
              </>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function Queue() {
  const q = usePoll(() => gql<{ queue: any }>(QUEUE).then((d) => d.queue), 3000);
  const act = useAction();
  const [cleared, setCleared] = useState<number | null>(null);
  const [provider, setProvider] = useState("");
  const run = (query: string, v?: Record<string, unknown>) => void act.run(async () => { const d = await gql(query, v); await q.reload(); return d; });
  return (
    <Card title="Queue" actions={<>
      <input name="provider" placeholder="provider (all)" value={provider} onInput={(e) => setProvider((e.target as HTMLInputElement).value.trim())} />
      <button data-action="pause" disabled={act.busy} onClick={() => run(PAUSE, { provider: provider || null })}>Pause</button>
      <button data-action="resume" disabled={act.busy} onClick={() => run(RESUME, { provider: provider || null })}>Resume</button>
      <button class="danger" data-action="clear" disabled={act.busy} onClick={() => void act.run(async () => { const d = await gql(CLEAR, { filter: provider ? { provider } : {} }); setCleared(d.clearQueue); await q.reload(); })}>Clear queued</button>
    </>}>
      <ErrorLine error={q.error ?? act.error} />
      {q.data && (
        <div id="queue" data-paused={String(!!q.data.paused)}>
          <p><b id="queue-state">{q.data.paused ? "PAUSED" : "RUNNING"}</b>{q.data.pausedProviders?.length ? ` (held: ${q.data.pausedProviders.join(", ")})` : ""} · waiting {q.data.waiting} · active {q.data.active} · delayed {q.data.delayed}</p>
          <table class="table"><thead><tr><th>priority</th><th class="num">waiting</th></tr></thead>
            <tbody>{priorityRows(q.data.byPriority).map((r) => <tr key={r.priority}><td>{r.priority}</td><td class="num">{r.count}</td></tr>)}</tbody>
          </table>
        </div>
      )}
      {cleared != null && <p class="muted" id="queue-cleared">Cancelled {cleared} queued generation(s).</p>}
    </Card>
  );
}

function Alerts() {
  const alerts = usePoll(() => gql<{ alerts: any[] }>(ALERTS).then((d) => d.alerts), 30_000);
  const subError = useSubscription<any>(LIVE_ALERTS, {}, (a) => alerts.setData((l) => [a, ...(l ?? []).filter((x) => x.id !== a.id)].slice(0, 50)));
  return (
    <Card title="Alerts">
      <ErrorLine error={alerts.error ?? subError} />
      <table class="table" id="alerts-table">
        <thead><tr><th>when</th><th>severity</th><th>kind</th><th>provider</th><th>message</th></tr></thead>
        <tbody>
          {(alerts.data ?? []).length === 0 && <tr><td colSpan={5} class="muted">No alerts.</td></tr>}
          {(alerts.data ?? []).map((a) => <tr key={a.id}><td>{relative(a.createdAt)}</td><td>{a.severity}</td><td>{a.kind}</td><td>{a.provider ?? "—"}</td><td>{a.message}</td></tr>)}
        </tbody>
      </table>
    </Card>
  );
}

function BullBoard() {
  const act = useAction();
  const [link, setLink] = useState<{ url: string; expiresAt: string } | null>(null);
  return (
    <Card title="Bull Board">
      <p class="muted">BullMQ's own view of the generations, webhooks and analytics queues. The link carries a signed token valid for a few minutes (no cookies).</p>
      <button id="bull-board-link" disabled={act.busy} onClick={() => void act.run(async () => setLink((await gql(BULL_BOARD)).bullBoardLink))}>Get a Bull Board link</button>
      {link && <p><a id="bull-board-open" href={link.url} target="_blank" rel="noreferrer noopener">Open Bull Board</a> <span class="muted">expires {relative(link.expiresAt)}</span></p>}
      <ErrorLine error={act.error} />
    </Card>
  );
}

export function AdminPage(_: { me: Me }) {
  return (
    <div class="page" data-page="admin">
      <Queue />
      <Keys />
      <Users />
      <Alerts />
      <BullBoard />
      
    </div>
  );
}
