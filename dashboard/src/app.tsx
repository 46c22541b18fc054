/** Sign-in, the navigation and hash routing (#/generations, #/generation/<id>, #/providers, #/spend, #/admin). */
import { useEffect, useState } from "preact/hooks";
import { ApiError, gql, getKey, ME, setKey, type Me } from "./api";
import { ErrorLine } from "./components";
import { AdminPage } from "./pages/admin";
import { GenerationDetail } from "./pages/generation-detail";
import { GenerationsPage } from "./pages/generations";
import { ProvidersPage } from "./pages/providers";
import { SpendPage } from "./pages/spend";

const route = () => location.hash.replace(/^#\/?/, "") || "generations";

function SignIn({ onSignedIn, error }: { onSignedIn: (key: string) => void; error: ApiError | null }) {
  const [key, setValue] = useState("");
  return (
    <main class="signin">
      <h1>Switchboard</h1>
      <form id="signin" onSubmit={(e) => { e.preventDefault(); if (key.trim()) onSignedIn(key.trim()); }}>
        <label>API key <input type="password" name="apiKey" autoComplete="off" value={key} onInput={(e) => setValue((e.target as HTMLInputElement).value)} placeholder="sk_…" /></label>
        <button type="submit">Sign in</button>
        <p class="muted small">Kept in this tab's sessionStorage only and sent as a Bearer header; no cookies.</p>
        <ErrorLine error={error} />
      </form>
    </main>
  );
}

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [checking, setChecking] = useState(!!getKey());
  const [path, setPath] = useState(route());

  useEffect(() => {
    const on = () => setPath(route());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);

  const signIn = async (key: string) => {
    setKey(key);
    setChecking(true);
    try {
      setMe((await gql<{ me: Me }>(ME)).me);
      setError(null);
    } catch (e) {
      setKey(null);
      setMe(null);
      setError(e instanceof ApiError ? e : new ApiError(String(e), "NETWORK_ERROR"));
    } finally {
      setChecking(false);
    }
  };

  useEffect(() => {
    const k = getKey();
    if (k) void signIn(k);
  }, []);

  if (!me) return checking ? <main class="signin"><p>Signing in…</p></main> : <SignIn onSignedIn={(k) => void signIn(k)} error={error} />;

  const [page, arg] = path.split("/");
  const nav = [["generations", "Generations"], ["providers", "Providers"], ["spend", "Spend"], ...(me.role === "ADMIN" ? [["admin", "Admin"]] : [])];
  return (
    <div class="shell">
      <nav class="top">
        <b class="brand">Switchboard</b>
        {nav.map(([id, label]) => <a key={id} href={`#/${id}`} class={page === id || (id === "generations" && page === "generation") ? "active" : ""} data-nav={id}>{label}</a>)}
        <span class="who" id="whoami">{me.email} · {me.role} · {me.tier}</span>
        <button class="small" id="signout" onClick={() => { setKey(null); setMe(null); location.hash = ""; }}>Sign out</button>
      </nav>
      <main>
        {page === "generation" && arg ? <GenerationDetail id={arg} />
          : page === "providers" ? <ProvidersPage me={me} />
          : page === "spend" ? <SpendPage me={me} />
          : page === "admin" && me.role === "ADMIN" ? <AdminPage me={me} />
          : <GenerationsPage me={me} />}
      </main>
    </div>
  );
}
