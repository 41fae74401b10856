// A local stand-in for the GitHub Actions results service (Twirp JSON), built from
// ../../../../shared/reference/artifact-protocol.md section 10, in front of a real Azurite
// blob store. No real results service runs offline; Azurite is Microsoft's own emulator and
// checks the SAS signatures this server issues.
//
// usage: node results-emulator.mjs
//   Starts Azurite (in memory) on a free loopback port, then this server on another, and
//   prints one JSON line: {"url": "http://127.0.0.1:<port>/", "azurite": "http://127.0.0.1:<port>"}.
//   Exits, stopping Azurite, when its stdin closes (the test process ended) or on SIGTERM.
//
// Test controls (not part of the real service):
//   POST /_emulator/faults {"run": "<run backend id>", "faults": [fault, ...]}
//     fault: {"target": "<Twirp method>" | "block" | "blocklist",
//             "kind": "status" | "html" | "intermediary" | "usage" | "notok" | "drop" | "delay" | "stall",
//             "status": 503, "ms": 1000, "times": 1 (-1: always)}
//     Faults of a run are consumed in order by matching requests. When a run has block or
//     blocklist faults, its signed upload URLs point at this server, which injects them and
//     passes every other request through to Azurite unchanged.
//     Download faults (target "download": the GET on a signed download URL; when a run has
//     any, its signed download URLs point at this server): "status" (an Azure XML error),
//     "expired" (the signed URL's SAS expired a minute before it was issued: Azurite
//     answers it, passed through here so the call is recorded),
//     "truncate" (the headers with the full Content-Length, half the body, then the
//     connection closed), "drop" (the connection closed before any answer). Target
//     "ListArtifacts" also takes "baddigest": the listing names a digest that is not the
//     stored bytes' (what a client sees when stored bytes changed after Finalize).
//   POST /_emulator/download-base {"run": "<run backend id>", "base": "http://127.0.0.1:<port>"}
//     The run's signed download URLs point at `base` (a TCP proxy in front of Azurite).
//   POST /_emulator/upload-base {"run": "<run backend id>", "base": "http://127.0.0.1:<port>"}
//     The run's signed upload URLs point at `base` instead of Azurite (a TCP proxy in front of
//     Azurite, for network faults below HTTP); block and blocklist faults take precedence.
//   GET /_emulator/state?run=<id>  -> {"artifacts": [...], "calls": [{"method", "status"}]}
//   POST /_emulator/options {"verifyDigest": true}  (what Finalize does on a size/hash mismatch)
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob'
import { readBody } from './http-util.mjs'

// Azurite's documented development account.
const ACCOUNT = 'devstoreaccount1'
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
const CONTAINER = 'actions-results'
const SAS_VERSION = '2025-11-05'
const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/'
const MAX_ARTIFACTS_PER_JOB = 500
const FORBIDDEN_NAME = ['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/']

const here = path.dirname(fileURLToPath(import.meta.url))

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// --- Azurite ---------------------------------------------------------------------------
const azuritePort = await freePort()
const azurite = spawn(
  process.execPath,
  [
    path.join(here, 'node_modules/azurite/dist/src/blob/main.js'),
    '--blobHost', '127.0.0.1',
    '--blobPort', String(azuritePort),
    '--inMemoryPersistence',
    '--skipApiVersionCheck',
    '--disableProductStyleUrl',
    '--disableTelemetry',
    '--silent',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
)
function shutdown(code) {
  azurite.kill('SIGTERM')
  process.exit(code)
}
azurite.on('exit', (code) => {
  if (!stopping) {
    console.error(`results-emulator: Azurite exited (${code})`)
    process.exit(1)
  }
})
let stopping = false
const stop = () => {
  stopping = true
  shutdown(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()

const azuriteUrl = `http://127.0.0.1:${azuritePort}`
const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY)
const service = new BlobServiceClient(`${azuriteUrl}/${ACCOUNT}`, credential)
const container = service.getContainerClient(CONTAINER)
for (let attempt = 0; ; attempt++) {
  try {
    await container.createIfNotExists()
    break
  } catch (e) {
    if (attempt > 100) throw e
    await sleep(100)
  }
}

// --- state -------------------------------------------------------------------------------
const options = { verifyDigest: true }
const artifacts = [] // {id, run, job, name, version, mime_type, expires_at, blob, finalized, size, digest, created_at}
const faults = new Map() // run -> [fault]
const uploadBase = new Map() // run -> origin its upload URLs point at
const downloadBase = new Map() // run -> origin its download URLs point at
const calls = new Map() // run -> [{method, status}]
let nextId = 1000

function takeFault(run, target) {
  const list = faults.get(run)
  if (!list) return null
  const i = list.findIndex((f) => f.target === target)
  if (i < 0) return null
  const f = list[i]
  if (f.times !== -1) {
    f.times = (f.times ?? 1) - 1
    if (f.times <= 0) list.splice(i, 1)
  }
  return f
}

function record(run, method, status) {
  if (!calls.has(run)) calls.set(run, [])
  calls.get(run).push({ method, status })
}

// --- helpers -----------------------------------------------------------------------------
function sendJson(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const TWIRP_STATUS = {
  already_exists: 409, aborted: 409, not_found: 404, bad_route: 404, invalid_argument: 400,
  malformed: 400, out_of_range: 400, unauthenticated: 401, permission_denied: 403,
  resource_exhausted: 429, failed_precondition: 412, canceled: 408, deadline_exceeded: 408,
  unimplemented: 501, internal: 500, unknown: 500, dataloss: 500, unavailable: 503,
}
const CODE_FOR_STATUS = { 500: 'internal', 502: 'unavailable', 503: 'unavailable', 504: 'deadline_exceeded', 429: 'resource_exhausted' }

function twirpError(res, code, msg) {
  sendJson(res, TWIRP_STATUS[code] ?? 500, { code, msg })
}

// Accepts snake_case and lowerCamelCase keys, as protobuf JSON parsers do.
function normalize(body) {
  const out = {}
  for (const [k, v] of Object.entries(body ?? {})) {
    out[k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())] = v
  }
  return out
}

function backendIds(req) {
  const auth = req.headers.authorization ?? ''
  const m = /^Bearer (.+)$/.exec(auth)
  if (!m) return null
  try {
    const payload = JSON.parse(Buffer.from(m[1].split('.')[1], 'base64url').toString('utf8'))
    for (const scope of String(payload.scp ?? '').split(' ')) {
      const parts = scope.split(':')
      if (parts[0] === 'Actions.Results' && parts.length === 3) return { run: parts[1], job: parts[2] }
    }
  } catch {
    return null
  }
  return null
}

function sas(blob, permissions, minutes, contentDisposition) {
  return generateBlobSASQueryParameters(
    {
      containerName: CONTAINER,
      blobName: blob,
      permissions: BlobSASPermissions.parse(permissions),
      startsOn: new Date(Date.now() - 5 * 60 * 1000),
      expiresOn: new Date(Date.now() + minutes * 60 * 1000),
      protocol: SASProtocol.HttpsAndHttp,
      version: SAS_VERSION,
      contentDisposition,
    },
    credential,
  ).toString()
}

function validName(name) {
  return typeof name === 'string' && name.length > 0 && !FORBIDDEN_NAME.some((c) => name.includes(c))
}

function blobPath(run, job, name, version, mime) {
  const zip = version < 7 || mime === 'application/zip'
  const ext = zip ? '.zip' : path.extname(name)
  return `${run}/workflow-job-run-${job}/artifacts/${randomBytes(32).toString('hex')}${ext || ''}`
}

function listed(a) {
  return {
    workflow_run_backend_id: a.run,
    workflow_job_run_backend_id: a.job,
    database_id: String(a.id),
    name: a.name,
    size: String(a.size),
    created_at: a.created_at,
    digest: a.digest,
  }
}

// --- Twirp -------------------------------------------------------------------------------
async function twirp(req, res, method) {
  const ids = backendIds(req)
  const raw = await readBody(req)
  let body
  try {
    body = normalize(JSON.parse(raw.toString('utf8')))
  } catch {
    return twirpError(res, 'malformed', 'the request body is not JSON')
  }
  const run = ids?.run ?? '-'
  const status = await twirpCall(req, res, method, ids, body)
  record(run, method, status)
}

async function twirpCall(req, res, method, ids, body) {
  if (!ids || body.workflow_run_backend_id !== ids.run || body.workflow_job_run_backend_id !== ids.job) {
    twirpError(res, 'unauthenticated', 'invalid auth token')
    return 401
  }
  const fault = takeFault(ids.run, method)
  if (fault?.kind === 'baddigest' && method === 'ListArtifacts') return listArtifacts(res, ids, body, true)
  if (fault) {
    const handled = await inject(req, res, fault, 'twirp')
    if (handled !== null) return handled
  }
  switch (method) {
    case 'CreateArtifact': return createArtifact(res, ids, body)
    case 'FinalizeArtifact': return finalizeArtifact(res, ids, body)
    case 'ListArtifacts': return listArtifacts(res, ids, body)
    case 'GetSignedArtifactURL': return signedUrl(res, ids, body)
    case 'DeleteArtifact': return deleteArtifact(res, ids, body)
    default:
      twirpError(res, 'bad_route', `no handler for path "${SERVICE}${method}"`)
      return 404
  }
}

// Applies a fault. Returns the status sent, or null to carry on normally (delay).
async function inject(req, res, fault, surface) {
  switch (fault.kind) {
    case 'delay':
      await sleep(fault.ms ?? 1000)
      return null
    case 'drop':
      req.socket.destroy()
      return 0
    case 'stall':
      // Hold the request open and never answer; the client's timer must give up.
      await new Promise((resolve) => req.socket.on('close', resolve))
      return 0
    case 'html': {
      const status = fault.status ?? 502
      const page = '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>'
      res.writeHead(status, { 'content-type': 'text/html' })
      res.end(page)
      return status
    }
    case 'intermediary':
      if (surface === 'blob') break
      sendJson(res, 403, { code: 'permission_denied', msg: 'Error from intermediary with HTTP status code 403 "Forbidden"' })
      return 403
    case 'usage':
      sendJson(res, 403, { code: 'permission_denied', msg: 'insufficient usage to create artifact' })
      return 403
    case 'notok':
      sendJson(res, 200, { ok: false })
      return 200
    case 'status':
    default: {
      const status = fault.status ?? 503
      if (surface === 'blob') {
        const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>injected ${status}</Message></Error>`
        res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': 'ServerBusy' })
        res.end(xml)
      } else {
        sendJson(res, status, { code: CODE_FOR_STATUS[status] ?? 'internal', msg: `injected ${status}` })
      }
      return status
    }
  }
  // Blob-side 403 from an intermediary: an HTML page.
  res.writeHead(403, { 'content-type': 'text/html' })
  res.end('<html><body>403 Forbidden</body></html>')
  return 403
}

function hasBlobFaults(run) {
  return (faults.get(run) ?? []).some((f) => f.target === 'block' || f.target === 'blocklist')
}

function createArtifact(res, ids, body) {
  const name = body.name
  if (!validName(name)) {
    twirpError(res, 'invalid_argument', `invalid artifact name: ${JSON.stringify(name)}`)
    return 400
  }
  const existing = artifacts.find((a) => a.run === ids.run && a.name === name)
  if (existing && (existing.finalized || existing.job !== ids.job)) {
    twirpError(res, 'already_exists', 'an artifact with this name already exists on the workflow run')
    return 409
  }
  if (existing) artifacts.splice(artifacts.indexOf(existing), 1) // a retried create
  const perJob = artifacts.filter((a) => a.run === ids.run && a.job === ids.job).length
  if (perJob >= MAX_ARTIFACTS_PER_JOB) {
    twirpError(res, 'invalid_argument', `the job has reached the maximum of ${MAX_ARTIFACTS_PER_JOB} artifacts`)
    return 400
  }
  const version = Number(body.version ?? 0)
  const mime = body.mime_type ?? null
  const blob = blobPath(ids.run, ids.job, name, version, mime)
  artifacts.push({
    id: null, run: ids.run, job: ids.job, name, version, mime_type: mime,
    expires_at: body.expires_at ?? null, blob, finalized: false, size: 0, digest: null, created_at: null,
  })
  const base = hasBlobFaults(ids.run) ? `${selfUrl}blob` : uploadBase.get(ids.run) ?? azuriteUrl
  const url = `${base}/${ACCOUNT}/${CONTAINER}/${blob}?${sas(blob, 'cw', 60)}`
  artifacts[artifacts.length - 1].signed_upload_url = url
  sendJson(res, 200, { ok: true, signed_upload_url: url })
  return 200
}

async function finalizeArtifact(res, ids, body) {
  const a = artifacts.find((x) => x.run === ids.run && x.job === ids.job && x.name === body.name && !x.finalized)
  if (!a) {
    twirpError(res, 'not_found', 'no pending artifact with this name for the job')
    return 404
  }
  // Streamed from Azurite and hashed as it arrives: the committed blob is the truth.
  let length = 0
  const hasher = createHash('sha256')
  try {
    const download = await container.getBlockBlobClient(a.blob).download()
    for await (const chunk of download.readableStreamBody) {
      hasher.update(chunk)
      length += chunk.length
    }
  } catch {
    twirpError(res, 'failed_precondition', 'the artifact blob was not committed')
    return 412
  }
  const size = Number(body.size ?? 0)
  const hash = 'sha256:' + hasher.digest('hex')
  if (options.verifyDigest && (size !== length || body.hash !== hash)) {
    twirpError(res, 'invalid_argument', `size or hash does not match the uploaded blob (${length} bytes, ${hash})`)
    return 400
  }
  a.finalized = true
  a.id = nextId++
  a.size = length
  a.digest = hash
  a.created_at = new Date().toISOString()
  sendJson(res, 200, { ok: true, artifact_id: String(a.id) })
  return 200
}

function listArtifacts(res, ids, body, badDigest = false) {
  let list = artifacts.filter((a) => a.run === ids.run && a.finalized)
  if (body.name_filter != null) list = list.filter((a) => a.name === body.name_filter)
  if (body.id_filter != null) list = list.filter((a) => String(a.id) === String(body.id_filter))
  const tampered = 'sha256:' + createHash('sha256').update('not the stored bytes').digest('hex')
  sendJson(res, 200, { artifacts: list.map(listed).map((a) => (badDigest ? { ...a, digest: tampered } : a)) })
  return 200
}

function signedUrl(res, ids, body) {
  const a = artifacts.find((x) => x.run === ids.run && x.job === body.workflow_job_run_backend_id && x.name === body.name && x.finalized)
  if (!a) {
    twirpError(res, 'not_found', 'artifact not found')
    return 404
  }
  // Raw (unzipped) artifacts download under their name, as the real service names them.
  const disposition = a.blob.endsWith('.zip') ? undefined : `attachment; filename*=UTF-8''${encodeURIComponent(a.name)}`
  const pending = (faults.get(ids.run) ?? []).filter((f) => f.target === 'download')
  const base = pending.length ? `${selfUrl}blob` : downloadBase.get(ids.run) ?? azuriteUrl
  // "expired": the URL is signed with an expiry a minute past, and Azurite itself refuses it.
  const expired = pending[0]?.kind === 'expired'
  if (expired) takeFault(ids.run, 'download')
  const url = `${base}/${ACCOUNT}/${CONTAINER}/${a.blob}?${sas(a.blob, 'r', expired ? -1 : 10, disposition)}`
  sendJson(res, 200, { signed_url: url })
  return 200
}

async function deleteArtifact(res, ids, body) {
  const a = artifacts
    .filter((x) => x.run === ids.run && x.name === body.name && x.finalized)
    .sort((x, y) => y.id - x.id)[0]
  if (!a) {
    twirpError(res, 'not_found', 'artifact not found')
    return 404
  }
  artifacts.splice(artifacts.indexOf(a), 1)
  await container.getBlockBlobClient(a.blob).deleteIfExists()
  sendJson(res, 200, { ok: true, artifact_id: String(a.id) })
  return 200
}

// --- blob pass-through with faults -------------------------------------------------------
async function blob(req, res, url) {
  const blobName = decodeURIComponent(url.pathname).split('/').slice(4).join('/')
  const a = artifacts.find((x) => x.blob === blobName)
  const comp = url.searchParams.get('comp')
  const target = comp === 'block' ? 'block' : comp === 'blocklist' ? 'blocklist' : req.method === 'GET' ? 'download' : null
  const run = a?.run ?? '-'
  if (target === 'download') {
    const fault = takeFault(run, 'download')
    if (fault?.kind === 'truncate') {
      const upstream = http.request(
        `${azuriteUrl}${url.pathname.slice('/blob'.length)}${url.search}`,
        { method: 'GET', headers: { ...req.headers, host: `127.0.0.1:${azuritePort}` } },
        (up) => {
          record(run, target, up.statusCode)
          res.writeHead(up.statusCode, up.headers)
          let left = Math.floor(Number(up.headers['content-length'] ?? 0) / 2)
          up.on('data', (chunk) => {
            if (left <= 0) return
            res.write(chunk.subarray(0, left))
            left -= chunk.length
            if (left <= 0) setTimeout(() => res.socket?.end(), 50)
          })
        },
      )
      upstream.on('error', () => res.destroy())
      upstream.end()
      return
    }
    if (fault) {
      const handled = await inject(req, res, fault, 'blob')
      if (handled !== null) {
        record(run, target, handled)
        return
      }
    }
  } else if (target) {
    const fault = takeFault(run, target)
    if (fault) {
      if (fault.kind !== 'delay' && fault.kind !== 'drop' && fault.kind !== 'stall') await readBody(req)
      if (fault.kind === 'drop') {
        // Let part of the body arrive, then cut the connection.
        await new Promise((resolve) => req.once('data', resolve))
      }
      const handled = await inject(req, res, fault, 'blob')
      if (handled !== null) {
        record(run, target, handled)
        return
      }
    }
  }
  const upstream = http.request(
    `${azuriteUrl}${url.pathname.slice('/blob'.length)}${url.search}`,
    { method: req.method, headers: { ...req.headers, host: `127.0.0.1:${azuritePort}` } },
    (up) => {
      if (target) record(run, target, up.statusCode)
      res.writeHead(up.statusCode, up.headers)
      up.pipe(res)
    },
  )
  upstream.on('error', () => res.destroy())
  req.pipe(upstream)
}

// --- server ------------------------------------------------------------------------------
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1')
    if (url.pathname.startsWith(SERVICE) && req.method === 'POST') {
      return await twirp(req, res, url.pathname.slice(SERVICE.length))
    }
    if (url.pathname.startsWith('/blob/')) return await blob(req, res, url)
    if (url.pathname === '/_emulator/faults' && req.method === 'POST') {
      const { run, faults: list } = JSON.parse((await readBody(req)).toString('utf8'))
      faults.set(run, [...(faults.get(run) ?? []), ...list])
      return sendJson(res, 200, { ok: true })
    }
    if (url.pathname === '/_emulator/download-base' && req.method === 'POST') {
      const { run, base } = JSON.parse((await readBody(req)).toString('utf8'))
      downloadBase.set(run, String(base).replace(/\/+$/, ''))
      return sendJson(res, 200, { ok: true })
    }
    if (url.pathname === '/_emulator/upload-base' && req.method === 'POST') {
      const { run, base } = JSON.parse((await readBody(req)).toString('utf8'))
      uploadBase.set(run, String(base).replace(/\/+$/, ''))
      return sendJson(res, 200, { ok: true })
    }
    if (url.pathname === '/_emulator/options' && req.method === 'POST') {
      Object.assign(options, JSON.parse((await readBody(req)).toString('utf8')))
      return sendJson(res, 200, options)
    }
    if (url.pathname === '/_emulator/state') {
      const run = url.searchParams.get('run')
      return sendJson(res, 200, {
        artifacts: artifacts.filter((a) => a.run === run),
        calls: calls.get(run) ?? [],
        pendingFaults: faults.get(run) ?? [],
      })
    }
    await readBody(req)
    twirpError(res, 'bad_route', `no handler for ${req.method} ${url.pathname}`)
  } catch (e) {
    if (!res.headersSent) twirpError(res, 'internal', String(e?.message ?? e))
    else res.destroy()
  }
})
server.keepAliveTimeout = 30000
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const selfUrl = `http://127.0.0.1:${server.address().port}/`
process.stdout.write(JSON.stringify({ url: selfUrl, azurite: azuriteUrl }) + '\n')
