// The dashboard's build (`npm run build:dashboard`): Preact + uPlot bundled into dist/dashboard,
// served by the product at /dashboard/ (src/http/dashboard.route.ts). Relative asset URLs, so it
// also works behind a proxy that mounts Switchboard under a path.
import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "./",
  plugins: [preact({ prerender: { enabled: false } })],
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    // No inline script anywhere: the CSP allows only 'self'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
});
