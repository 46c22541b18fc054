// Import rules for src/ (`npm run lint:deps`, run by .ci/run). They keep the layers of
// README "Layout" and /shared STYLE.md one-way: api → domain → (db, providers, realtime, jobs
// producers); jobs processors → domain; the composition root (src/app.ts, src/app/, src/main.ts,
// src/infra.ts) is the only code that may reach every folder, and nothing reaches it.
//
// Type-only imports count (tsPreCompilationDeps): `import type { DataSource } from "typeorm"` in
// api/ is still the persistence layer leaking into GraphQL, and a cycle of `import type` is
// still two modules that cannot be understood apart. The one exception is
// bullmq-composition-root-types-only, which is about run-time queue code.
//
// The SQL-ownership rules (who may issue SQL, which store owns a table) and the file-size rule
// are not import rules: scripts/check-structure.ts (`npm run check:structure`) checks them.

/** The composition root: builds everything once, so it alone may import every folder. */
const COMPOSITION_ROOT = "^src/(app[.]ts|main[.]ts|infra[.]ts|app/)";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "A cycle makes module initialisation order matter (a class used before its file finished " +
        "loading is undefined) and means two modules are one in disguise. Break it by moving the " +
        "shared piece (often a type) down a layer or passing it in through a deps object. Cycles " +
        "closed only by `import type` count too: harmless at run time, but the same two-modules-in-one.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "nothing-imports-app",
      severity: "error",
      comment:
        "src/app/ is the composition root (infrastructure, services, workers): it imports every " +
        "layer, so a layer importing it back closes a cycle through the whole program. Only " +
        "src/app.ts, src/main.ts, src/infra.ts and src/app/ itself may import it (tests, bench/ " +
        "and scripts/ are outside src/ and not checked). Pass what you need in through a deps object.",
      from: { path: "^src/", pathNot: COMPOSITION_ROOT },
      to: { path: "^src/app/" },
    },
    {
      name: "nothing-imports-app-ts",
      severity: "error",
      comment: "src/app.ts is the composition root: only src/main.ts (the CLI) and src/app/ may import it.",
      from: { path: "^src/", pathNot: "^src/(main[.]ts|app/)" },
      to: { path: "^src/app[.]ts$" },
    },
    {
      name: "api-http-no-typeorm",
      severity: "error",
      comment:
        "GraphQL (src/api/) and the HTTP server (src/http/) never touch the database: no TypeORM, " +
        "not even a DataSource type. Ask a domain service; the *.store.ts files own the SQL.",
      from: { path: "^src/(api|http)/" },
      to: { path: "(^|/)node_modules/typeorm/" },
    },
    {
      name: "api-http-no-stores",
      severity: "error",
      comment:
        "src/api/ and src/http/ never import a *.store.ts: a store is the domain's private " +
        "persistence. Resolvers and routes call one domain service, which asks its store.",
      from: { path: "^src/(api|http)/" },
      to: { path: "[.]store[.]ts$" },
    },
    {
      name: "providers-only-common-config",
      severity: "error",
      comment:
        "An adapter maps a provider's wire format to ours and nothing more: src/providers/ imports " +
        "only itself, src/common/ and src/config/ (and npm/node packages). Cross-cutting concerns " +
        "(circuit breaker, key pool, metrics, tracing) wrap adapters from the outside, in domain/ " +
        "or the composition root, never from inside providers/.",
      from: { path: "^src/providers/", pathNot: "[.]spec[.]ts$" },
      to: { path: "^src/", pathNot: "^src/(providers|common|config)/" },
    },
    {
      name: "domain-not-api-http",
      severity: "error",
      comment:
        "Business logic never depends on its transports: src/domain/ does not import src/api/ " +
        "(GraphQL types, resolvers, loaders) or src/http/. Return domain values and let api/ map them.",
      from: { path: "^src/domain/" },
      to: { path: "^src/(api|http)/" },
    },
    {
      name: "bullmq-only-in-jobs",
      severity: "error",
      comment:
        "src/jobs/ is the only folder that imports bullmq (STYLE.md): queues, producers, processors " +
        "and the retry/delay vocabulary live there, everyone else calls their typed functions. " +
        "Allowed exception: the composition root (src/app.ts, src/app/) holds the Worker handles it " +
        "starts and closes, as types only (see bullmq-composition-root-types-only).",
      from: { path: "^src/", pathNot: "^src/(jobs/|app[.]ts$|app/)" },
      to: { path: "(^|/)node_modules/bullmq/" },
    },
    {
      name: "bullmq-composition-root-types-only",
      severity: "error",
      comment:
        "The composition root may name bullmq types (a Worker it closes) but builds queues and " +
        "workers through src/jobs/ functions: a value import of bullmq here is queue code outside jobs/.",
      from: { path: "^src/(app[.]ts$|app/)" },
      to: { path: "(^|/)node_modules/bullmq/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "config-imports-nothing-in-src",
      severity: "error",
      comment: "src/config/ is the bottom layer (STYLE.md): env.ts reads the environment, config.ts types it; it imports nothing else in src/.",
      from: { path: "^src/config/" },
      to: { path: "^src/", pathNot: "^src/config/" },
    },
    {
      name: "common-imports-nothing-in-src",
      severity: "error",
      comment: "src/common/ holds tiny pure helpers (errors, ids, money, time) every layer may use, so it imports nothing else in src/ (STYLE.md).",
      from: { path: "^src/common/", pathNot: "[.]spec[.]ts$" },
      to: { path: "^src/", pathNot: "^src/common/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve to a file or an installed package: a typo, a moved file, or a package missing from package.json.",
      from: { path: "^src/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    exclude: { path: "^dist/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["main", "types", "typings"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
