// Runs the official v3 artifact client (@actions/artifact 1.1.2, the library behind
// actions/upload-artifact@v3 and download-artifact@v3, installed as @actions/artifact-v1)
// against the pipelines service in ACTIONS_RUNTIME_URL for the run GITHUB_RUN_ID.
//
// usage:
//   node artifact-v1-client.mjs upload <name> <root> <file>...  -> {"artifactName", "size", "failedItems"}
//   node artifact-v1-client.mjs download <name> <dir>           -> {"artifactName", "downloadPath"}
// The result is written as JSON to the file named by STEVEDORE_RESULT (the library logs
// to stdout). Needs ACTIONS_RUNTIME_TOKEN, ACTIONS_RUNTIME_URL and GITHUB_RUN_ID.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { create } = require('@actions/artifact-v1')

const client = create()
const [command, ...args] = process.argv.slice(2)
let result
if (command === 'upload') {
  const [name, root, ...files] = args
  result = await client.uploadArtifact(name, files, root, { continueOnError: false })
  if (result.failedItems.length > 0) {
    throw new Error(`failed items: ${result.failedItems.join(', ')}`)
  }
} else if (command === 'download') {
  const [name, dir] = args
  result = await client.downloadArtifact(name, dir, { createArtifactFolder: false })
} else {
  throw new Error(`unknown command ${command}`)
}
writeFileSync(process.env.STEVEDORE_RESULT, JSON.stringify(result))
