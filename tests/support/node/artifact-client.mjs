// Runs the official @actions/artifact client (the library behind actions/upload-artifact
// and actions/download-artifact) against the endpoint in ACTIONS_RESULTS_URL.
//
// usage:
//   node artifact-client.mjs upload <name> <root> <level> <file>...   -> {"id", "size", "digest"}
//     (a single file argument `@<list>` names a file holding one path per line)
//   node artifact-client.mjs download <id> <dir>                       -> {"downloadPath", "digestMismatch"}
//   node artifact-client.mjs list                                      -> {"artifacts": [...]}
// The result is written as JSON to the file named by STEVEDORE_RESULT (the library logs
// to stdout). Needs ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL and GITHUB_SERVER_URL.
import { readFileSync, writeFileSync } from 'node:fs'
import { DefaultArtifactClient } from '@actions/artifact'

const client = new DefaultArtifactClient()
const [command, ...args] = process.argv.slice(2)
let result
if (command === 'upload') {
  const [name, root, level, ...rest] = args
  const files = rest.length === 1 && rest[0].startsWith('@')
    ? readFileSync(rest[0].slice(1), 'utf8').split('\n').filter(Boolean)
    : rest
  result = await client.uploadArtifact(name, files, root, { compressionLevel: Number(level) })
} else if (command === 'download') {
  const [id, dir] = args
  result = await client.downloadArtifact(Number(id), { path: dir })
} else if (command === 'list') {
  result = await client.listArtifacts()
} else {
  throw new Error(`unknown command ${command}`)
}
writeFileSync(process.env.STEVEDORE_RESULT, JSON.stringify(result))
