#!/usr/bin/env node
// The installed CLI runs the compiled output; `npm run build` (or `npm start`) produces it.
const path = require("node:path");
const fs = require("node:fs");

const entry = path.join(__dirname, "..", "dist", "src", "main.js");
if (!fs.existsSync(entry)) {
  console.error(`switchboard: ${path.relative(process.cwd(), entry) || entry} is missing: run \`npm run build\` first`);
  process.exit(1);
}
require(entry).run(process.argv.slice(2));
