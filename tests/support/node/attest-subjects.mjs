// Reads a subject-checksums file as actions/attest reads its `subject-checksums` input and
// prints the subjects as JSON, or {"error": "..."} where attest's step would fail.
//
// The rules are actions/attest's `getSubjectFromChecksumsString` and `digestAlgorithm`
// (src/subject.ts at commit 1e69f48acb82d1966a394da916b4c1698aa569d6, 2026-08-04),
// transcribed: attest is an action, not a package, so its parsing cannot be imported.
// Split on LF or CRLF, drop empty lines; per line, the digest is the text before the first
// space and must be hex of a known SHA-2 length; the name is the rest, one leading `*` or
// space dropped, and may not hold CR or LF; a (name, digest) pair is kept once. A file over
// 512 KiB is refused, as attest refuses it.
//
// usage: node attest-subjects.mjs <file>
import { readFileSync, statSync } from 'node:fs'

const MAX_SUBJECT_CHECKSUM_SIZE_BYTES = 512 * 1024
const HEX_STRING_RE = /^[0-9a-fA-F]+$/

function digestAlgorithm(digest) {
  switch (digest.length) {
    case 64:
      return 'sha256'
    case 128:
      return 'sha512'
    default:
      throw new Error(`Unknown digest algorithm: ${digest}`)
  }
}

function parse(checksums) {
  const subjects = []
  for (const record of checksums.split(/\r?\n/).filter(Boolean)) {
    const delimIndex = record.indexOf(' ')
    if (delimIndex === -1) continue
    const flagAndName = record.slice(delimIndex + 1)
    const name = flagAndName.startsWith('*') || flagAndName.startsWith(' ') ? flagAndName.slice(1) : flagAndName
    if (/[\r\n]/.test(name)) throw new Error(`Invalid subject name (contains a newline): ${name}`)
    const digest = record.slice(0, delimIndex)
    if (!HEX_STRING_RE.test(digest)) throw new Error(`Invalid digest: ${digest}`)
    const alg = digestAlgorithm(digest)
    if (!subjects.some((s) => s.name === name && s.digest[alg] === digest)) {
      subjects.push({ name, digest: { [alg]: digest } })
    }
  }
  return subjects
}

const file = process.argv[2]
try {
  if (statSync(file).size > MAX_SUBJECT_CHECKSUM_SIZE_BYTES) {
    throw new Error(`subject checksums file exceeds maximum allowed size: ${MAX_SUBJECT_CHECKSUM_SIZE_BYTES} bytes`)
  }
  process.stdout.write(JSON.stringify({ subjects: parse(readFileSync(file, 'utf-8')) }))
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e.message }))
}
