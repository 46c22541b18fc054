// CI: every npm script in package.json and every command the README shows must work. Each one
// runs (long-running ones are started, used once ready and stopped; benchmarks at a tiny size;
// CLI commands with --help) and fails on a non-zero exit or on empty output.
//
//   npm run check:commands [-- --covered build,typecheck]   # names an earlier CI step already ran
//
// A script with no rule below fails the check: add one when you add a script.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { Client } from "pg";

const root = join(__dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
const readme = readFileSync(join(root, "README.md"), "utf8");
const coveredArg = process.argv.indexOf("--covered");
const covered = new Set(coveredArg > 0 ? process.argv[coveredArg + 1].split(",") : []);
const PG = "postgres://postgres@127.0.0.1:5432";

interface Result { code: number | null; out: string; ms: number }

/** Runs `cmd` in its own process group; kills the group after `timeoutMs`. `until` ends it early once it says so. */
function sh(cmd: string, env: Record<string, string> = {}, timeoutMs = 150_000, until?: (out: string) => Promise<boolean> | boolean): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", cmd], { cwd: root, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let done = false;
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      out += `\n[check-commands: timed out after ${timeoutMs} ms]`;
      kill("SIGKILL");
    }, timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    let stoppedOnPurpose = false;
    if (until) {
      void (async () => {
        while (!done) {
          if (await until(out)) {
            stoppedOnPurpose = true;
            kill("SIGTERM");
            setTimeout(() => kill("SIGKILL"), 15_000).unref();
            return;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
    }
    child.on("close", (code) => {
      done = true;
      clearTimeout(timer);
      resolve({ code: stoppedOnPurpose ? 0 : code, out, ms: Date.now() - t0 });
    });
  });
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** A throwaway database and Redis prefix for a command that needs the real stack. */
async function sandbox(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const name = `sb_check_${randomBytes(4).toString("hex")}`;
  const port = await freePort();
  return {
    env: { DATABASE_URL: `${PG}/${name}`, REDIS_PREFIX: name, PORT: String(port), HOST: "127.0.0.1", PUBLIC_URL: `http://127.0.0.1:${port}`, SWITCHBOARD_URL: `http://127.0.0.1:${port}/graphql` },
    async drop() {
      const c = new Client({ connectionString: `${PG}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
const ready = async (port: string) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);

type Check = () => Promise<Result>;
const KEY_RE = /sb_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}/;

/** `npm start` (what the Quick start runs), then the README's example and curl against it. */
async function startAndUse(): Promise<Result> {
  const box = await sandbox();
  const used: string[] = [];
  try {
    const r = await sh("npm start", box.env, 180_000, async (out) => {
      const key = KEY_RE.exec(out)?.[0];
      if (!key || !(await ready(box.env.PORT))) return false;
      for (const args of ["", "-- image \"a red fox\""]) {
        const ex = await sh(`npm run example ${args}`, { ...box.env, SWITCHBOARD_API_KEY: key }, 90_000);
        used.push(`npm run example ${args} → exit ${ex.code}\n${ex.out}`);
        if (ex.code !== 0 || !/SUCCEEDED/.test(ex.out)) throw new Error(`npm run example ${args} failed:\n${ex.out}`);
      }
      const curl = await sh(
        `curl -sf http://127.0.0.1:${box.env.PORT}/graphql -H 'content-type: application/json' -H 'authorization: Bearer ${key}' -d '{"query":"mutation { createGeneration(input: {modality: TEXT, model: \\"simulated/text\\", prompt: \\"Hello!\\", wait: 10}) { id status output { text } } }"}'`,
      );
      used.push(`README curl → ${curl.out}`);
      if (curl.code !== 0 || !/"SUCCEEDED"/.test(curl.out)) throw new Error(`the README's curl failed:\n${curl.out}`);
      // The README's own curl examples (the /v1 doors), as written, with this server's port and key.
      for (const c of readmeCurls) {
        const res = await sh(c.replace(/http:\/\/localhost:4000\//g, `http://127.0.0.1:${box.env.PORT}/`), { ...box.env, SB_KEY: key }, 90_000);
        used.push(`README \`${c.slice(0, 80)}…\` → exit ${res.code}\n${res.out.slice(0, 400)}`);
        if (res.code !== 0 || !res.out.trim() || /"error"\s*:/.test(res.out)) throw new Error(`the README's \`${c}\` failed:\n${res.out}`);
      }
      return true;
    });
    return { ...r, out: `${r.out}\n${used.join("\n")}` };
  } catch (err) {
    return { code: 1, out: `${(err as Error).message}\n${used.join("\n")}`, ms: 0 };
  } finally {
    await box.drop();
  }
}

/** A server command, started on a throwaway database and stopped once /readyz answers. */
function startStop(cmd: string): Check {
  return async () => {
    const box = await sandbox();
    try {
      return await sh(cmd, box.env, 180_000, () => ready(box.env.PORT));
    } finally {
      await box.drop();
    }
  };
}

const run = (cmd: string, env: Record<string, string> = {}): Check => () => sh(cmd, env);
/** A benchmark at its tiny size: each starts servers and children, so a loaded 2-core machine gets 6 minutes (3 failed at 150 s under load 18). */
const bench = (cmd: string, env: Record<string, string> = {}): Check => () => sh(cmd, env, 360_000);

/** How each package.json script is exercised. */
const RULES: Record<string, Check | "self"> = {
  build: run("npm run build"),
  "build:dashboard": run("npm run build:dashboard"),
  typecheck: run("npm run typecheck"),
  test: run("npm test -- src/config/readme-env.spec.ts"),
  "test:unit": run("npm run test:unit -- src/config/readme-env.spec.ts"),
  start: startAndUse,
  dev: startStop("npm run dev"),
  switchboard: run("npm run switchboard -- --help"),
  schema: run("npm run schema"),
  codegen: run("npm run codegen"),
  "check:generated": run("npm run check:generated"),
  "check:compose": run("npm run check:compose"),
  "lint:deps": run("npm run lint:deps"),
  "check:structure": run("npm run check:structure"),
  "check:commands": "self",
  example: startAndUse, // needs a running server and a key: run together with `npm start`
  // The whole bench, then its scale-out phase alone (BENCH_ONLY=scale, as the README shows it).
  bench: bench("npm run bench && BENCH_ONLY=scale npm run bench", { BENCH_N: "50", BENCH_C: "4", BENCH_COUNT_N: "30", BENCH_OPEN_RATE: "20", BENCH_OPEN_SECONDS: "1", BENCH_SCALE_N: "16", BENCH_SCALE_CONCURRENCY: "4", BENCH_SCALE_LATENCY_MS: "20", BENCH_SCALE_STEPS: "2" }),
  "bench:fanout": bench("npm run bench:fanout", { BENCH_FANOUT_USERS: "20", BENCH_FANOUT_SUBS_PER_USER: "4", BENCH_FANOUT_PER_SOCKET: "2", BENCH_FANOUT_CLIENTS: "1", BENCH_FANOUT_RATE: "200", BENCH_FANOUT_SECONDS: "2" }),
  "bench:semantic": bench("npm run bench:semantic"),
  "bench:analytics": bench("npm run bench:analytics", { BENCH_ANALYTICS_ROWS: "2000", BENCH_ANALYTICS_ITERATIONS: "3" }),
  "bench:resilience": bench("npm run bench:resilience", { BENCH_N: "30", BENCH_C: "4" }),
  "bench:chaos": bench("npm run bench:chaos", { CHAOS_N: "20", CHAOS_RATE: "20", CHAOS_QUIET_MS: "3000", CHAOS_KILL_EVERY_MS: "2000" }),
  "bench:peers": bench("npm run bench:peers", { BENCH_PEERS_SECONDS: "1" }),
};

// --- what the README shows --------------------------------------------------------------
const shellLines = [...readme.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)].flatMap((m) => m[1].replace(/\\\n\s*/g, " ").split("\n"));
/** The README's curl examples against a local server (`localhost:4000`): run by `npm start`'s check with its key as $SB_KEY. */
const readmeCurls: string[] = [];
const inline = [...readme.matchAll(/`((?:npm|npx) [^`]+)`/g)].map((m) => m[1]);
const cliSection = readme.slice(readme.indexOf("\n## CLI"), readme.indexOf("\n## ", readme.indexOf("\n## CLI") + 5));
const cliRows = [...cliSection.matchAll(/^\| (`[a-z].*?`) \|/gm)].map((m) => m[1].replace(/^`|`$/g, ""));

const wanted = new Map<string, Check>(); // label → check
const problems: string[] = [];
const addScript = (name: string, from: string) => {
  const rule = RULES[name];
  if (!(name in pkg.scripts)) problems.push(`${from}: \`npm run ${name}\` is not a package.json script`);
  else if (!rule) problems.push(`package.json script "${name}" has no rule in scripts/check-commands.ts: add one`);
  else if (rule !== "self" && !covered.has(name)) wanted.set(name === "example" ? "start" : name, rule === startAndUse ? startAndUse : rule);
};
const addCli = (words: string, from: string) => {
  const label = `npx switchboard ${words ? `${words} ` : ""}--help`;
  if (!wanted.has(label)) wanted.set(label, run(`npx --no-install switchboard ${words} --help`));
  void from;
};

for (const name of Object.keys(pkg.scripts)) {
  if (/^(pre|post)/.test(name) && pkg.scripts[name.replace(/^(pre|post)/, "")]) continue; // runs with its script
  addScript(name, "package.json");
}
for (const raw of [...shellLines, ...inline]) {
  const line = raw.replace(/#.*$/, "").replace(/^(\s*[A-Z_]+=\S+\s+)+/, "").trim();
  if (!line) continue;
  for (const part of line.split("&&").map((p) => p.trim())) {
    let m: RegExpMatchArray | null;
    if (/^export [A-Z_]+=/.test(part)) continue; // environment for the commands that follow
    if ((m = part.match(/^npm (?:run )?(test|start)\b/)) || (m = part.match(/^npm run ([\w:-]+)/))) addScript(m[1], `README \`${part}\``);
    else if (part === "npm install") wanted.set("npm install", run("npm install --dry-run --no-audit --no-fund"));
    else if ((m = part.match(/^npx switchboard ([a-z][a-z ]*)/))) addCli(m[1].trim(), part);
    else if (/^npx switchboard\b/.test(part)) addCli("", part);
    else if (/^docker compose\b/.test(part)) {
      // No Docker engine here: the file is validated by check:compose, and the CLI command a `run` names is checked.
      const cmd = part.match(/\brun --rm \w+ ([a-z][a-z ]*?)(?: --|$)/);
      if (cmd) addCli(cmd[1].trim(), part);
      if (!covered.has("check:compose")) wanted.set("check:compose", RULES["check:compose"] as Check);
    } else if (/^curl\b.*\bhttp:\/\/localhost:4000\//.test(part)) {
      readmeCurls.push(part);
      if (!covered.has("start")) wanted.set("start", startAndUse);
    } else problems.push(`README shows \`${part}\`, which scripts/check-commands.ts does not know how to run: add a rule`);
  }
}
// Each code span of a row's first cell: the command words before its options.
for (const row of cliRows) for (const span of row.split(/`,?\s*`/)) addCli(span.split(/\s+/).filter((w, i, all) => /^[a-z]+$/.test(w) && all.slice(0, i).every((x) => /^[a-z]+$/.test(x))).join(" "), "README CLI table");
addCli("", "root");

async function main() {
  if (problems.length) {
    console.error(`check-commands:\n  - ${problems.join("\n  - ")}`);
    process.exit(1);
  }
  const failed: string[] = [];
  const t0 = Date.now();
  // The slowest (a cluster of processes, mostly start-up) runs beside the others to keep the step short.
  const BESIDE = new Set(["bench:chaos"]);
  const early = new Map([...wanted].filter(([label]) => BESIDE.has(label)).map(([label, check]) => [label, check()]));
  for (const [label, check] of [...[...wanted].filter(([l]) => !BESIDE.has(l)), ...[...wanted].filter(([l]) => BESIDE.has(l))]) {
    const r = await (early.get(label) ?? check());
    const ok = r.code === 0 && r.out.trim().length > 0;
    console.log(`${ok ? "ok  " : "FAIL"} ${label} (${(r.ms / 1000).toFixed(1)} s)`);
    if (!ok) {
      failed.push(label);
      console.log(`     exit ${r.code}${r.out.trim() ? "" : ", no output"}\n${r.out.trim().split("\n").slice(-30).map((l) => `     | ${l}`).join("\n")}`);
    }
  }
  if (covered.size) console.log(`(covered by earlier CI steps: ${[...covered].join(", ")})`);
  console.log(`check-commands: ${wanted.size - failed.length} ok, ${failed.length} failing, in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (failed.length) process.exit(1);
}

void main();
