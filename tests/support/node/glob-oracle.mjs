// Runs the official @actions/glob exactly as actions/upload-artifact (src/shared/search.ts)
// calls it, for a batch of cases, and writes the results as JSON.
//
// usage: node glob-oracle.mjs <cases.json> <results.json>
//   cases:   [{ "patterns": "<multi-line path input>", "includeHidden": false }]
//   results: [{ "files": [...], "searchPaths": [...], "rootDirectory": "..." } | { "error": "..." }]
//
// The working directory (for relative patterns) and HOME (for ~) come from the caller.
// Output goes to a file because @actions/core writes ::debug:: lines to stdout.
import { readFileSync, writeFileSync, statSync } from 'node:fs'
import * as path from 'node:path'
import * as glob from '@actions/glob'

// upload-artifact's getMultiPathLCA (search.ts), transcribed.
function getMultiPathLCA(searchPaths) {
  const commonPaths = []
  const splitPaths = []
  let smallestPathLength = Number.MAX_SAFE_INTEGER
  for (const searchPath of searchPaths) {
    const splitSearchPath = path.normalize(searchPath).split(path.sep)
    smallestPathLength = Math.min(smallestPathLength, splitSearchPath.length)
    splitPaths.push(splitSearchPath)
  }
  if (searchPaths[0].startsWith(path.sep)) commonPaths.push(path.sep)
  let splitIndex = 0
  const same = () => splitPaths.every(p => p[splitIndex] === splitPaths[0][splitIndex])
  while (splitIndex < smallestPathLength) {
    if (!same()) break
    commonPaths.push(splitPaths[0][splitIndex])
    splitIndex++
  }
  return path.join(...commonPaths)
}

// upload-artifact's findFilesToUpload (search.ts), transcribed: directories are dropped
// with fs.stat (following links), then the root directory is chosen.
async function findFilesToUpload(patterns, includeHidden) {
  const globber = await glob.create(patterns, {
    followSymbolicLinks: true,
    implicitDescendants: true,
    omitBrokenSymbolicLinks: true,
    excludeHiddenFiles: !includeHidden
  })
  const raw = await globber.glob()
  const files = raw.filter(f => !statSync(f).isDirectory())
  const searchPaths = globber.getSearchPaths()
  let rootDirectory
  if (searchPaths.length > 1) rootDirectory = getMultiPathLCA(searchPaths)
  else if (files.length === 1 && searchPaths[0] === files[0]) rootDirectory = path.dirname(files[0])
  else rootDirectory = searchPaths[0]
  return { files, searchPaths, rootDirectory }
}

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const results = []
for (const c of cases) {
  try {
    results.push(await findFilesToUpload(c.patterns, c.includeHidden))
  } catch (e) {
    results.push({ error: String(e && e.message ? e.message : e) })
  }
}
writeFileSync(process.argv[3], JSON.stringify(results))
