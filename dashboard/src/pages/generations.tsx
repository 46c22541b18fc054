/** Generations: a live table (mine; admins: everyone's, polled) and a create form; cancel in place. */
import { useState } from "preact/hooks";
import { gql, type Me } from "../api";
import { ErrorLine, Status, Card } from "../components";
import { cancellable, latencyMs, ms, relative, shortId, usd } from "../format";
import { useAction, usePoll, useSubscription } from "../hooks";
import { upsertRows, type GenRow } from "../state";

export const GEN_FIELDS = `id status model modality provider { id } costUsd estimatedCostUsd createdAt startedAt completedAt user { email }`;

const LIST = `query DashboardGenerations($first: Int) { generations(first: $first) { edges { node { ${GEN_FIELDS} } } } }`;
const LIVE = `subscription DashboardMyGenerations { myGenerations { type seq generation { ${GEN_FIELDS} } } }`;
const CANCEL = `mutation DashboardCancel($id: ID!) { cancelGeneration(id: $id) { ${GEN_FIELDS} } }`;
const CREATE = `mutation DashboardCreate($input: CreateGenerationInput!) { createGeneration(input: $input) { ${GEN_FIELDS} } }`;

export function GenerationsPage({ me }: { me: Me }) {
  const [rows, setRows] = useState<GenRow[]>([]);
  const admin = me.role === "ADMIN";
  // Admins see everyone's through the query (myGenerations carries only their own), so poll too.
  const list = usePoll(async () => {
    const d = await gql<{ generations: { edges: { node: GenRow }[] } }>(LIST, { first: 50 });
    setRows((r) => upsertRows(r, d.generations.edges.map((e) => e.node)));
    return true;
  }, admin ? 3000 : 15_000);
  const subError = useSubscription<{ generation: GenRow }>(LIVE, {}, (ev) => setRows((r) => upsertRows(r, [ev.generation])));
  const cancel = useAction();
  const create = useAction();
  const [prompt, setPrompt] = useState("Write a haiku about switchboards.");
  const [model, setModel] = useState("simulated/text");

  const onCreate = async (e: Event) => {
    e.preventDefault();
    const g = await create.run(() => gql<{ createGeneration: GenRow }>(CREATE, { input: { modality: "TEXT", model, prompt } }));
    if (g) setRows((r) => upsertRows(r, [g.createGeneration]));
  };

  return (
    <div class="page" data-page="generations">
      <Card title="New text generation">
        <form class="inline" onSubmit={onCreate}>
          <label>Model <input name="model" value={model} onInput={(e) => setModel((e.target as HTMLInputElement).value)} /></label>
          <label class="grow">Prompt <input name="prompt" value={prompt} onInput={(e) => setPrompt((e.target as HTMLInputElement).value)} /></label>
          <button type="submit" disabled={create.busy}>Create</button>
        </form>
        <ErrorLine error={create.error} />
      </Card>
      <Card title={admin ? "Generations (everyone's)" : "My generations"} actions={<button onClick={() => void list.reload()}>Refresh</button>}>
        <ErrorLine error={list.error ?? subError ?? cancel.error} />
        <table class="table" id="generations-table">
          <thead>
            <tr>
              <th>id</th><th>status</th><th>model</th><th>provider</th><th class="num">cost</th><th class="num">latency</th><th>created</th>{admin && <th>user</th>}<th />
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && <tr><td colSpan={9} class="muted">No generations yet.</td></tr>}
            {rows.map((g) => (
              <tr key={g.id} data-id={g.id} data-status={g.status}>
                <td><a href={`#/generation/${g.id}`} class="mono">{shortId(g.id)}</a></td>
                <td><Status status={g.status} /></td>
                <td>{g.model}</td>
                <td>{g.provider?.id ?? "—"}</td>
                <td class="num">{g.costUsd != null ? usd(g.costUsd) : <span class="muted">≤ {usd(g.estimatedCostUsd)}</span>}</td>
                <td class="num">{ms(latencyMs(g))}</td>
                <td>{relative(g.createdAt)}</td>
                {admin && <td>{g.user?.email ?? "—"}</td>}
                <td>
                  {cancellable(g.status) && (
                    <button class="danger small" data-action="cancel" disabled={cancel.busy} onClick={() => void cancel.run(async () => {
                      const d = await gql<{ cancelGeneration: GenRow }>(CANCEL, { id: g.id });
                      setRows((r) => upsertRows(r, [d.cancelGeneration]));
                    })}>Cancel</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
