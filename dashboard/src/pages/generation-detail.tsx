/** One generation: its events streamed live (text as it arrives), media shown by type, cancel. */
import { useState } from "preact/hooks";
import { gql } from "../api";
import { Card, ErrorLine, Status } from "../components";
import { cancellable, latencyMs, ms, pct, usd } from "../format";
import { useAction, usePoll, useSubscription } from "../hooks";
import { applyEvent, emptyStream, type StreamEvent } from "../state";

const DETAIL = `id status model modality prompt progress cached costUsd estimatedCostUsd createdAt startedAt completedAt provider { id }
  error { code message }
  output { text mimeType url files { url mimeType width height durationSeconds } usage { inputTokens outputTokens images seconds } }
  attempts { attemptNo provider model status latencyMs errorKind costUsd }`;

const GET = `query DashboardGeneration($id: ID!) { generation(id: $id) { ${DETAIL} } }`;
const LIVE = `subscription DashboardGenerationUpdated($id: ID!) { generationUpdated(id: $id) { type seq delta text progress message generation { id status progress } } }`;
const CANCEL = `mutation DashboardCancelOne($id: ID!) { cancelGeneration(id: $id) { id status } }`;

interface File { url: string; mimeType: string }

function Media({ files, url, mimeType }: { files: File[]; url?: string | null; mimeType?: string | null }) {
  const all = files.length ? files : url && mimeType ? [{ url, mimeType }] : [];
  return (
    <div class="media">
      {all.map((f) =>
        f.mimeType.startsWith("image/") ? <img key={f.url} src={f.url} alt="generated image" />
        : f.mimeType.startsWith("video/") ? <video key={f.url} src={f.url} controls />
        : f.mimeType.startsWith("audio/") ? <audio key={f.url} src={f.url} controls />
        : <a key={f.url} href={f.url}>{f.mimeType}</a>,
      )}
    </div>
  );
}

export function GenerationDetail({ id }: { id: string }) {
  const [stream, setStream] = useState(emptyStream());
  const [status, setStatus] = useState<string | null>(null);
  const g = usePoll(() => gql<{ generation: any }>(GET, { id }).then((d) => d.generation), 0, [id]);
  const subError = useSubscription<StreamEvent & { generation: { status: string } }>(LIVE, { id }, (ev) => {
    setStream((s) => applyEvent(s, ev));
    setStatus(ev.generation.status);
    if (ev.type === "SUCCEEDED" || ev.type === "FAILED" || ev.type === "CANCELLED") void g.reload(); // output, cost, attempts
  }, [id]);
  const cancel = useAction();
  const gen = g.data;
  const shown = status ?? gen?.status ?? "…";
  const text = stream.text || gen?.output?.text || "";

  return (
    <div class="page" data-page="generation">
      <p><a href="#/generations">← Generations</a></p>
      <Card title={`Generation ${id}`} actions={cancellable(shown) && (
        <button class="danger" data-action="cancel" disabled={cancel.busy} onClick={() => void cancel.run(() => gql(CANCEL, { id }))}>Cancel</button>
      )}>
        <ErrorLine error={g.error ?? subError ?? cancel.error} />
        {gen && (
          <dl class="facts">
            <dt>status</dt><dd><Status status={shown} /> <span class="muted">{pct(stream.progress || gen.progress)}</span></dd>
            <dt>model</dt><dd>{gen.model}{gen.provider ? ` via ${gen.provider.id}` : ""}</dd>
            <dt>cost</dt><dd>{gen.costUsd != null ? usd(gen.costUsd) : `≤ ${usd(gen.estimatedCostUsd)} (estimate)`}{gen.cached ? " · cached" : ""}</dd>
            <dt>latency</dt><dd>{ms(latencyMs(gen))}</dd>
            <dt>prompt</dt><dd class="pre">{gen.prompt ?? "—"}</dd>
            {gen.error && <><dt>error</dt><dd class="error"><b>{gen.error.code}</b> {gen.error.message}</dd></>}
          </dl>
        )}
        <h3>Output</h3>
        <pre class="output" id="generation-text">{text}</pre>
        {gen?.output && <Media files={gen.output.files ?? []} url={gen.output.url} mimeType={gen.output.mimeType} />}
        <p class="muted small" id="generation-events">events: {stream.events.join(" → ")}</p>
        {gen?.attempts?.length > 0 && (
          <table class="table">
            <thead><tr><th>#</th><th>provider</th><th>model</th><th>status</th><th class="num">latency</th><th>error</th><th class="num">cost</th></tr></thead>
            <tbody>
              {gen.attempts.map((a: any) => (
                <tr key={a.attemptNo}><td>{a.attemptNo}</td><td>{a.provider}</td><td>{a.model}</td><td>{a.status}</td><td class="num">{ms(a.latencyMs)}</td><td>{a.errorKind ?? ""}</td><td class="num">{usd(a.costUsd)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
