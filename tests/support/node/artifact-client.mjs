// Runs the official @actions/artifact client (the library behind actions/upload-artifact
// and actions/download-artifact) against the endpoint in ACTIONS_RESULTS_URL.
//
// usage:
//   node artifact-client.mjs upload <name> <root> <level> <file>...   -> {"id", "size", "digest"}
//     (a single file argument `@<list>` names a file holding one path per line)
//   node artifact-client.mjs download <id> <dir> [digest]              -> {"downloadPath", "digestMismatch"}
//     (with `digest`, `sha256:<hex>` checked as download-artifact passes `expectedHash`)
//   node artifact-client.mjs list                                      -> {"artifacts": [...]}
//   node artifact-client.mjs list-public <owner/repo> <run id>         -> {"artifacts": [...]}
//   node artifact-client.mjs download-public <id> <dir> <owner/repo> <run id>
//     -> {"downloadPath", "digestMismatch", "expectedHash"}: another run's artifact through
//     the REST API (GITHUB_API_URL), as download-artifact does with `github-token`: the
//     digest the run's list gives is the one the download is checked against.
//     The token is read from STEVEDORE_GITHUB_TOKEN (never an argument: `ps` shows those).
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
  const [id, dir, expectedHash] = args
  result = await client.downloadArtifact(Number(id), { path: dir, expectedHash })
} else if (command === 'list') {
  result = await client.listArtifacts()
} else if (command === 'list-public' || command === 'download-public') {
  const [repositoryOwner, repositoryName] = args[command === 'list-public' ? 0 : 2].split('/')
  const workflowRunId = Number(args[command === 'list-public' ? 1 : 3])
  const findBy = { token: process.env.STEVEDORE_GITHUB_TOKEN, workflowRunId, repositoryOwner, repositoryName }
  const listed = await client.listArtifacts({ findBy })
  if (command === 'list-public') {
    result = listed
  } else {
    const [id, dir] = args
    const expectedHash = listed.artifacts.find((a) => a.id === Number(id))?.digest
    const downloaded = await client.downloadArtifact(Number(id), { path: dir, expectedHash, findBy })
    result = { ...downloaded, expectedHash }
  }
} else {
  throw new Error(`unknown command ${command}`)
}
writeFileSync(process.env.STEVEDORE_RESULT, JSON.stringify(result))
