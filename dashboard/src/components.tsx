import type { ComponentChildren } from "preact";
import type { ApiError } from "./api";

export function ErrorLine({ error }: { error: ApiError | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" data-code={error.code}>
      <b>{error.code}</b> {error.message}
    </p>
  );
}

export function Status({ status }: { status: string }) {
  return <span class={`status status-${status.toLowerCase()}`} data-status={status}>{status}</span>;
}

export function Card({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <header>
        <h2>{title}</h2>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** A horizontal bar sized through CSSOM (el.style), which the CSP allows; no inline style attributes. */
export function Bar({ share, kind = "" }: { share: number; kind?: string }) {
  return (
    <span class="bar">
      <span class={`fill ${kind}`} ref={(el) => { if (el) el.style.width = `${Math.round(Math.min(1, Math.max(0, share)) * 1000) / 10}%`; }} />
    </span>
  );
}
