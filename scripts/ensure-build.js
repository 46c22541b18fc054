// prestart: build dist/ when it is missing or older than any source file (npm start "builds if needed").
const fs = require("node:fs");
const path = require("node:path");
const { execSync } = require("node:child_process");

const root = path.join(__dirname, "..");
const out = path.join(root, "dist", "src", "main.js");
function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith(".ts") ? fs.statSync(p).mtimeMs : 0);
  }
  return t;
}
const built = fs.existsSync(out) ? fs.statSync(out).mtimeMs : 0;
const src = Math.max(newest(path.join(root, "src")), newest(path.join(root, "migrations")));
if (built < src) {
  console.log("Building (tsc)…");
  execSync("npx tsc -p tsconfig.build.json", { cwd: root, stdio: "inherit" });
  fs.utimesSync(out, new Date(), new Date());
}
