// CI (`npm run check:structure`): the structural rules of issue 15 that are not import rules
// (those are in .dependency-cruiser.cjs, `npm run lint:deps`). Exit 1 with every violation listed.
//
// 1. SQL only in stores. Outside `*.store.ts` files and src/db/ (data-source, ping, the
//    queryRows helper), no src/ file (specs aside) issues SQL: no `.query(`, `queryRows(`,
//    `createQueryBuilder(`, `createQueryRunner(`, `getRepository(`, `.manager.`, and no
//    EntityManager call with an entity class (`m.insert(UserEntity, …)`). A file with none of
//    those holds no SQL text on our tables either (a literal starting SELECT/INSERT/UPDATE/…,
//    handed to a store's generic method, is the same thing) and imports no SQL module. A
//    service may still open a transaction (`ds.transaction(m => …)`) and hand `m` to its stores.
// 2. One store owns a table's writes. The SQL a store runs is its string literals plus those of
//    the `*.sql.ts` / `*-sql.ts` modules it imports (fragments such as domain/analytics/analytics-sql.ts
//    count for every store that imports them). A table (one CREATE TABLE in migrations/) is
//    written — INSERT INTO, UPDATE, DELETE FROM, TRUNCATE, MERGE INTO, or a TypeORM write
//    (insert/save/update/delete… on its entity) — by at most one store: its owner. Another
//    store may read it only in a statement that also touches one of its own tables (a read
//    join); a statement that reads only tables of other stores belongs in their owner (only whole
//    statements are judged so: a literal starting SELECT/INSERT/UPDATE/DELETE/WITH in the store
//    itself; a fragment, in a SQL module or in parentheses, is spliced into one). A table
//    no store writes is owned by the one store that reads it; if several stores read it, it
//    needs an owner. SHARED_TABLES below lists the few deliberate exceptions (a store that
//    may write, or read on its own, a table another store owns), each with why.
//    Keywords are read in upper case (the house style for SQL), table names only from the
//    tables migrations/ creates, so prose like "copied from generations" never counts.
// 3. Size. A src/ file (specs aside) over 300 lines says why at its top: a comment in its first
//    40 lines containing "one coherent thing" (e.g. `// One coherent thing: the config schema.`).
//
//   npm run check:structure [-- --owners]   # --owners also prints each table's owning store
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = join(__dirname, "..");
const MAX_LINES = 300;
const COHERENT = /one coherent thing/i;
const HEADER_LINES = 40;

/**
 * Tables that more than one store writes (`access: "write"`, reads included) or reads on its own
 * (`access: "read"`: a read model such as a report) on purpose: the stores allowed, and why.
 * Keep it short; an entry naming a store that does not exist fails the check.
 */
const SHARED_TABLES: { table: string; stores: string[]; access: "write" | "read"; why: string }[] = [
  ...["quota_periods", "api_key_periods", "spend_ledger"].map((table) => ({
    table,
    access: "write" as const,
    stores: ["src/domain/generations/generation.store.ts", "src/domain/quotas/quota.store.ts"],
    why:
      "Money moves exactly once because it moves in the same statement as the generation's own " +
      "transition: the generation store's settle/terminal statements charge attempts and release the " +
      "reservation (the charge/release fragments), while the quota store owns the rest (admission's " +
      "reservation, extend, limits, usage reads). A budgeted API key's row (api_key_periods) moves with its user's.",
  })),
  {
    table: "users",
    access: "write",
    stores: ["src/domain/auth/user.store.ts", "src/domain/quotas/quota.store.ts"],
    why:
      "A user's identity (email, role, tier) is created by the user store with its first key; the " +
      "per-user budget override (quota_limit_micros) is set and read by the quota store with the rest of the budget.",
  },
  ...[
    { table: "generations", stores: ["src/domain/analytics/analytics.store.ts"] },
    { table: "generation_attempts", stores: ["src/domain/analytics/analytics.store.ts", "src/domain/monitoring/monitoring.store.ts"] },
  ].map((x) => ({
    ...x,
    access: "read" as const,
    why:
      "Read models over history: the metrics query and the rollups aggregate raw generations and their " +
      "attempts, anomaly detection aggregates each provider's recent attempts. Aggregates, never a " +
      "generation's state; the generation store alone writes both tables.",
  })),
];

const rel = (p: string) => relative(root, p).split("\\").join("/");
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
const sourceFiles = walk(join(root, "src")).filter((f) => f.endsWith(".ts") && !f.endsWith(".spec.ts") && !f.endsWith(".d.ts"));
const isStore = (f: string) => f.endsWith(".store.ts");
const mayIssueSql = (f: string) => isStore(f) || rel(f).startsWith("src/db/");
const isSqlModule = (f: string) => /[.-]sql\.ts$/.test(f);

const parsed = new Map<string, ts.SourceFile>();
const parse = (f: string) => {
  let sf = parsed.get(f);
  if (!sf) parsed.set(f, (sf = ts.createSourceFile(f, readFileSync(f, "utf8"), ts.ScriptTarget.Latest, true)));
  return sf;
};
const lineOf = (sf: ts.SourceFile, pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1;
const visit = (node: ts.Node, fn: (n: ts.Node) => void) => {
  fn(node);
  node.forEachChild((c) => visit(c, fn));
};

// --- what the schema has ---------------------------------------------------------------------
const TABLES = new Set<string>();
for (const f of walk(join(root, "migrations")).filter((x) => x.endsWith(".ts")))
  for (const m of readFileSync(f, "utf8").matchAll(/CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)"?/g)) TABLES.add(m[1]);
const ENTITY_TABLE = new Map<string, string>(); // entity class → table
for (const f of walk(join(root, "src/db/entities")))
  for (const m of readFileSync(f, "utf8").matchAll(/@Entity\(\s*["'](\w+)["'][^)]*\)\s*(?:export\s+)?class\s+(\w+)/g)) ENTITY_TABLE.set(m[2], m[1]);

// --- 1. SQL only in stores -------------------------------------------------------------------
const SQL_METHODS = new Set(["query", "createQueryBuilder", "createQueryRunner", "getRepository"]);
const SQL_FUNCTIONS = new Set(["queryRows"]);
const WRITE_METHODS = new Set(["insert", "save", "update", "upsert", "delete", "remove", "softDelete", "softRemove", "restore", "increment", "decrement", "clear", "into"]);
const READ_METHODS = /^(find\w*|count\w*|exist\w*|sum|average|minimum|maximum|preload|from)$/;
const entityArg = (call: ts.CallExpression) => {
  const a = call.arguments[0];
  return a && ts.isIdentifier(a) && ENTITY_TABLE.has(a.text) ? a.text : undefined;
};

/** The `*.sql.ts` / `*-sql.ts` modules a file imports. */
function sqlModulesOf(f: string): string[] {
  return parse(f).statements.flatMap((s) => {
    if (!ts.isImportDeclaration(s) || !ts.isStringLiteral(s.moduleSpecifier) || !s.moduleSpecifier.text.startsWith(".")) return [];
    const base = resolve(dirname(f), s.moduleSpecifier.text);
    return [`${base}.ts`, join(base, "index.ts")].filter((p) => existsSync(p) && isSqlModule(p));
  });
}
const SQL_START = /^[`"']\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH|TRUNCATE|MERGE)\b/;
const WHOLE_STATEMENT = /^[`"']\s*(SELECT|INSERT|UPDATE|DELETE|WITH|TRUNCATE|MERGE)\b/;

const hits = new Map<string, string[]>(); // file:line → what it calls
for (const f of sourceFiles.filter((x) => !mayIssueSql(x))) {
  const sf = parse(f);
  visit(sf, (n) => {
    let what: string | undefined;
    if (ts.isCallExpression(n)) {
      const callee = n.expression;
      if (ts.isPropertyAccessExpression(callee) && SQL_METHODS.has(callee.name.text)) what = `.${callee.name.text}(`;
      else if (ts.isIdentifier(callee) && SQL_FUNCTIONS.has(callee.text)) what = `${callee.text}(`;
      else if (ts.isPropertyAccessExpression(callee) && entityArg(n) && (WRITE_METHODS.has(callee.name.text) || READ_METHODS.test(callee.name.text)))
        what = `.${callee.name.text}(${entityArg(n)}, …)`;
      if (what) {
        const first = n.arguments.find((a) => ts.isStringLiteralLike(a) || ts.isTemplateExpression(a));
        const tables = first ? [...new Set(statementOf(sf, first).tables)] : [];
        what += tables.length ? ` on ${tables.join(", ")}` : "";
      }
    } else if (ts.isPropertyAccessExpression(n) && n.name.text === "manager" && ts.isPropertyAccessExpression(n.parent) && n.parent.expression === n) {
      what = ".manager.";
    }
    if (what) {
      const at = `${rel(f)}:${lineOf(sf, n.getStart())}`;
      hits.set(at, [...(hits.get(at) ?? []), what]);
    }
  });
}
// No SQL call here, but SQL text (for a store's generic "run this" method) or a SQL module: the same thing.
for (const f of sourceFiles.filter((x) => !mayIssueSql(x) && !isSqlModule(x) && ![...hits.keys()].some((k) => k.startsWith(`${rel(x)}:`)))) {
  const sf = parse(f);
  const add = (at: string, what: string) => hits.set(at, [...(hits.get(at) ?? []), what]);
  visit(sf, (n) => {
    if (!(ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n)) || !SQL_START.test(n.getText())) return;
    const tables = [...new Set(statementOf(sf, n).tables)];
    if (tables.length) add(`${rel(f)}:${lineOf(sf, n.getStart())}`, `SQL text on ${tables.join(", ")}`);
  });
  for (const m of sqlModulesOf(f)) add(`${rel(f)}:1`, `imports the SQL module ${rel(m)}`);
}
const sqlOutside = [...hits].map(([at, what]) => `${at}  ${what.join(" ")}`);

// --- 2. one store owns a table's writes ------------------------------------------------------
interface Use { table: string; write: boolean; at: string }
/** `whole`: a complete statement of the store's own (not a fragment it splices into another). */
interface Statement { tables: string[]; uses: Use[]; whole?: boolean }

/** The tables one SQL literal writes and reads (substitutions blanked, `--` comments dropped). */
function statementOf(sf: ts.SourceFile, lit: ts.Node): Statement {
  const start = lit.getStart();
  let text = sf.text.slice(start, lit.end);
  if (ts.isTemplateExpression(lit))
    for (const span of lit.templateSpans) {
      const [a, b] = [span.expression.pos - 2 - start, span.expression.end + 1 - start]; // `${` … `}`
      text = text.slice(0, a) + text.slice(a, b).replace(/[^\n]/g, "#") + text.slice(b);
    }
  text = text.replace(/--[^\n]*/g, (c) => " ".repeat(c.length));
  const uses: Use[] = [];
  const at = (i: number) => `${rel(sf.fileName)}:${lineOf(sf, start + i)}`;
  const add = (table: string, write: boolean, i: number) => TABLES.has(table) && uses.push({ table, write, at: at(i) });
  const deleteTargets = new Set<number>();
  for (const m of text.matchAll(/\b(INSERT\s+INTO|MERGE\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?(\w+(?:\s*,\s*\w+)*)/g)) {
    const names = m[1].startsWith("TRUNCATE") ? m[2].split(/\s*,\s*/) : [m[2].split(/[\s,]/)[0]];
    for (const t of names) add(t, true, m.index!);
    if (m[1].startsWith("DELETE")) deleteTargets.add(m.index! + m[0].indexOf("FROM"));
  }
  for (const m of text.matchAll(/\b(FROM|JOIN|USING)\s+(?:ONLY\s+|LATERAL\s+)?(\w+)/g)) {
    if (deleteTargets.has(m.index!)) continue;
    add(m[2], false, m.index!);
    // `FROM a x, b y`: the rest of a comma list
    let rest = text.slice(m.index! + m[0].length);
    for (let c: RegExpMatchArray | null; (c = rest.match(/^\s*(?:(?:AS\s+)?[a-z_]\w*\s*)?,\s*(?:ONLY\s+)?(\w+)/)); rest = rest.slice(c[0].length)) {
      if (!TABLES.has(c[1])) break;
      add(c[1], false, m.index!);
    }
  }
  return { tables: uses.map((u) => u.table), uses };
}

/** SQL-looking literals and TypeORM entity calls in a file. */
function statementsIn(f: string): Statement[] {
  const sf = parse(f);
  const out: Statement[] = [];
  visit(sf, (n) => {
    if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n)) && /\b(SELECT|INSERT|UPDATE|DELETE|TRUNCATE|MERGE|WITH)\b/.test(n.getText())) {
      const s = statementOf(sf, n);
      if (s.uses.length) out.push({ ...s, whole: !isSqlModule(f) && WHOLE_STATEMENT.test(n.getText()) });
    }
    if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) return;
    const entity = entityArg(n);
    if (!entity) return;
    const table = ENTITY_TABLE.get(entity)!;
    const at = `${rel(f)}:${lineOf(sf, n.getStart())}`;
    const name = n.expression.name.text;
    if (name === "getRepository") {
      // ds.getRepository(XEntity).<method>(…)
      const next = n.parent;
      const method = ts.isPropertyAccessExpression(next) ? next.name.text : "";
      out.push({ tables: [table], uses: [{ table, write: WRITE_METHODS.has(method), at }], whole: true });
    } else if (WRITE_METHODS.has(name) || READ_METHODS.test(name)) {
      // m.insert(XEntity, …), qb.insert().into(XEntity), qb.delete().from(XEntity)
      const write = WRITE_METHODS.has(name) || (name === "from" && /\.delete\(\)/.test(n.expression.expression.getText()));
      out.push({ tables: [table], uses: [{ table, write, at }], whole: true });
    }
  });
  return out;
}

const stores = sourceFiles.filter(isStore);
const byStore = new Map(stores.map((s) => [rel(s), [s, ...sqlModulesOf(s)].flatMap(statementsIn)]));
const writers = new Map<string, Map<string, string[]>>(); // table → store → where
const readers = new Map<string, Set<string>>(); // table no store writes → the stores that read it
for (const [store, stmts] of byStore)
  for (const u of stmts.flatMap((s) => s.uses).filter((x) => x.write)) {
    const w = writers.get(u.table) ?? new Map<string, string[]>();
    writers.set(u.table, w.set(store, [...(w.get(store) ?? []), u.at]));
  }
const shared = (table: string, store: string, access: "write" | "read" = "write") =>
  SHARED_TABLES.some((x) => x.table === table && x.stores.includes(store) && (x.access === "write" || access === "read"));

/** The first few places, without repeating the file: `a.ts:3, :9, :12 and 4 more`. */
const brief = (at: string[]) => {
  const shown = at.slice(0, 3).map((a, i) => (i && a.split(":")[0] === at[0].split(":")[0] ? `:${a.split(":")[1]}` : a));
  return `${shown.join(", ")}${at.length > 3 ? ` and ${at.length - 3} more` : ""}`;
};
const tooManyWriters: string[] = [];
for (const [table, w] of writers) {
  const unlisted = [...w.keys()].filter((s) => !shared(table, s));
  if (w.size > 1 && unlisted.length)
    tooManyWriters.push(`${table} is written by ${w.size} stores:\n${[...w].map(([s, at]) => `      ${s} (${brief([...new Set(at)])})`).join("\n")}`);
}

for (const [store, stmts] of byStore)
  for (const u of stmts.flatMap((x) => x.uses)) if (!writers.has(u.table)) readers.set(u.table, (readers.get(u.table) ?? new Set()).add(store));
/** The stores that write the table; for a table no store writes, the one store that reads it. */
const owner = (table: string): string[] | undefined => {
  const w = writers.get(table);
  const r = readers.get(table);
  return w ? [...w.keys()] : r?.size === 1 ? [...r] : undefined;
};
const foreignReads = new Set<string>();
for (const [store, stmts] of byStore)
  for (const s of stmts) {
    if (!s.whole || s.tables.some((t) => owner(t)?.includes(store))) continue; // a fragment, or a read join with a table of its own
    const foreign = new Map<string, string>(); // table → its owner(s)
    for (const u of s.uses) {
      const o = owner(u.table);
      if (o && !u.write && !shared(u.table, store, "read")) foreign.set(u.table, o.join(" + "));
    }
    const at = s.uses[0].at.startsWith(`${store}:`) ? s.uses[0].at : `${store} (via ${s.uses[0].at})`;
    if (foreign.size) foreignReads.add(`${at}  reads ${[...foreign].map(([t, o]) => `${t} (${o})`).join(", ")} and none of its own tables`);
  }
const staleShared = SHARED_TABLES.flatMap((x) =>
  x.stores.filter((s) => !byStore.has(s)).map((s) => `SHARED_TABLES entry for ${x.table} names ${s}, which is not a store here`),
);
const ownerless: string[] = [];
for (const [table, r] of readers)
  if (r.size > 1 && ![...r].every((st) => shared(table, st, "read")))
    ownerless.push(`${table}: no store writes it and ${r.size} stores read it (${[...r].join(", ")}): give it one owner`);

// --- 3. size ---------------------------------------------------------------------------------
const tooLong: string[] = [];
for (const f of sourceFiles) {
  const text = readFileSync(f, "utf8");
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines <= MAX_LINES) continue;
  const header = text.split("\n").slice(0, HEADER_LINES).filter((l) => /^\s*(\/\/|\/\*|\*)/.test(l));
  if (!header.some((l) => COHERENT.test(l))) tooLong.push(`${rel(f)} (${lines} lines)`);
}

// --- report ----------------------------------------------------------------------------------
if (process.argv.includes("--owners")) {
  console.log("table owners (the stores that write it):");
  for (const t of [...TABLES].sort())
    console.log(`  ${t.padEnd(28)} ${writers.has(t) ? owner(t)!.join(", ") : readers.has(t) ? `(no store writes it; read by ${[...readers.get(t)!].join(", ")})` : "-"}`);
}
const sections: [string, string[]][] = [
  ["SQL outside a *.store.ts (or src/db/): move the statement into the store that owns its table", sqlOutside],
  ["tables written by more than one store: the owner writes, the others ask it (or list it in SHARED_TABLES with why)", tooManyWriters],
  ["a store reads another store's table on its own: ask the owner store instead (a read join with one of its own tables is fine)", [...foreignReads]],
  ["tables no store writes, read by several stores (or list them in SHARED_TABLES with why)", ownerless],
  ["SHARED_TABLES entries (scripts/check-structure.ts) that name no store: update or drop them", staleShared],
  [`files over ${MAX_LINES} lines without "one coherent thing" in a comment at the top (split it, or say why it is one thing)`, tooLong],
];
const broken = sections.filter(([, v]) => v.length);
for (const [title, v] of broken) console.log(`\n${title} (${v.length}):\n${v.map((x) => `  - ${x}`).join("\n")}`);
console.log(`\ncheck-structure: ${broken.length ? `${broken.reduce((n, [, v]) => n + v.length, 0)} violation(s)` : "ok"} (${sourceFiles.length} files, ${stores.length} stores, ${TABLES.size} tables)`);
if (broken.length) process.exit(1);
