#!/usr/bin/env node
// The installed CLI runs the compiled output; `npm run build` (or `npm start`) produces it.
require("../dist/src/main.js");
