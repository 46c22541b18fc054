/**
 * The installed CLI, as users run it: package.json's `bin` (bin/switchboard.js → dist/src/main.js).
 * dist/ must exist (CI's .ci/run builds before `npm test`; locally `npm run build`); when a source
 * file is newer than dist, it is rebuilt once (one build at a time across parallel test files).
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureBuild, entry } = require(path.join(ROOT, "scripts/ensure-build.js")) as {
  ensureBuild(opts: { allowTypeErrors?: boolean; log?: (s: string) => void }): "fresh" | "built";
  entry: string;
};

/** The file package.json's `bin.switchboard` names. */
export const BIN = path.join(ROOT, (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> }).bin.switchboard);

let checked = false;
/** Fails clearly when dist/ is missing; rebuilds it when a source file is newer. */
export function ensureDist(): void {
  if (checked) return;
  if (!existsSync(entry)) throw new Error(`${path.relative(ROOT, entry)} is missing: run \`npm run build\` before these tests (CI's .ci/run builds first)`);
  ensureBuild({ allowTypeErrors: true, log: (s) => process.stderr.write(`${s}\n`) });
  checked = true;
}

/** Environment for a spawned CLI: nothing inherited but what a shell user has (PATH, HOME), plus `env`. */
export function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

/** `npx --no-install switchboard …` in the repository, as the README tells users to run it. */
export function npxSwitchboard(args: string[], env: Record<string, string | undefined>, opts: SpawnOptions = {}): ChildProcess {
  ensureDist();
  return spawn("npx", ["--no-install", "switchboard", ...args], { cwd: ROOT, env: cliEnv(env), stdio: ["ignore", "pipe", "pipe"], ...opts });
}

/** Runs `npx --no-install switchboard …` to completion. */
export function runSwitchboard(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = npxSwitchboard(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
