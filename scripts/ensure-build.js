// Builds dist/ when it is missing or older than any source file: `npm start` (prestart) "builds if
// needed", and the tests that run the installed bin (bin/switchboard.js → dist/) call it too.
// The same for the web dashboard (dashboard/ → dist/dashboard, Vite): ensureDashboard(), which
// ensureBuild() runs too and the dashboard e2e calls when the built files are missing or stale.
// Concurrent callers (parallel test files) take turns through a lock directory; the second finds
// dist fresh and does nothing.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { createHash } = require("node:crypto");
const { spawnSync } = require("node:child_process");

const root = path.join(__dirname, "..");
const out = path.join(root, "dist", "src", "main.js");

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith(".ts") && !e.name.endsWith(".spec.ts") ? fs.statSync(p).mtimeMs : 0);
  }
  return t;
}

/** True when dist/src/main.js exists and no source file (src/, migrations/) is newer. */
function isFresh() {
  const built = fs.existsSync(out) ? fs.statSync(out).mtimeMs : 0;
  return built >= Math.max(newest(path.join(root, "src")), newest(path.join(root, "migrations")));
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Builds what is stale: the server (tsc, dist/src) and the dashboard (vite, dist/dashboard).
 * `allowTypeErrors`: keep what tsc emitted even if it reports type errors (tests in a tree
 * someone is editing); otherwise a failed build throws.
 * Returns "fresh" or "built".
 */
function ensureBuild({ allowTypeErrors = false, log = console.log } = {}) {
  const server = ensureServerBuild({ allowTypeErrors, log });
  const dashboard = ensureDashboard({ log });
  return server === "built" || dashboard === "built" ? "built" : "fresh";
}

/** Takes the named build lock (a directory), runs `fn`, releases it. */
function withLock(name, fn) {
  const lock = path.join(os.tmpdir(), `switchboard-${name}-${createHash("sha1").update(root).digest("hex").slice(0, 12)}.lock`);
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      // A lock older than 5 minutes belongs to a build that died.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 5 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      sleep(250);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function ensureServerBuild({ allowTypeErrors, log }) {
  if (isFresh()) return "fresh";
  return withLock("build", () => {
    if (isFresh()) return "fresh";
    log("Building (tsc)…");
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, encoding: "utf8" });
    const output = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
    if (r.status !== 0) {
      if (!allowTypeErrors || !fs.existsSync(out)) throw new Error(`npm run build failed:\n${output}`);
      log(`tsc reported errors (kept its output):\n${output}`);
    }
    fs.utimesSync(out, new Date(), new Date());
    return "built";
  });
}

const dashboardOut = path.join(root, "dist", "dashboard", "index.html");

/** Newest mtime of the dashboard's sources (dashboard/, unit specs aside). */
function newestDashboardSource(dir = path.join(root, "dashboard")) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestDashboardSource(p) : /\.spec\.tsx?$/.test(e.name) ? 0 : fs.statSync(p).mtimeMs);
  }
  return t;
}

/** True when dist/dashboard/index.html exists and no file under dashboard/ is newer. */
function isDashboardFresh() {
  if (!fs.existsSync(path.join(root, "dashboard"))) return true;
  const built = fs.existsSync(dashboardOut) ? fs.statSync(dashboardOut).mtimeMs : 0;
  return built >= newestDashboardSource();
}

/** Runs `vite build` for the dashboard when dist/dashboard is missing or stale; a failure throws. */
function ensureDashboard({ log = console.log } = {}) {
  if (isDashboardFresh()) return "fresh";
  return withLock("dashboard", () => {
    if (isDashboardFresh()) return "fresh";
    log("Building the dashboard (vite)…");
    const vite = path.join(root, "node_modules", "vite", "bin", "vite.js");
    const r = spawnSync(process.execPath, [vite, "build", "--config", "dashboard/vite.config.mts"], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`the dashboard build failed:\n${`${r.stdout ?? ""}${r.stderr ?? ""}`.trim()}`);
    fs.utimesSync(dashboardOut, new Date(), new Date());
    return "built";
  });
}

module.exports = { ensureBuild, ensureDashboard, isFresh, isDashboardFresh, entry: out };

if (require.main === module) {
  try {
    ensureBuild();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
