// A local stand-in for the GitHub REST API (releases and the uploads host; a workflow run's artifacts). No GitHub runs
// offline; the response bodies are the recorded payloads of @octokit/fixtures (scenarios
// release-assets and release-assets-conflict), with ids, names and URLs filled in, never
// hand-written JSON. Behaviour follows ../../../../shared/reference/releases-and-distribution.md
// section B: drafts are invisible by tag, several drafts may share a tag, 422 already_exists
// on a published tag or a duplicate asset name, assets in state `starter` after a 502.
//
// usage: node github-emulator.mjs   -> prints {"url": "http://127.0.0.1:<port>"}; exits when
// stdin closes. API at <url>/, uploads at <url>/uploads/ (the releases' upload_url says so).
// The API URLs in answers (a release's url, assets_url and upload_url, pagination links) are
// built from the request's loopback `Host`, so a client that reaches the emulator through a
// TCP proxy uploads and pages through that proxy too; html and download URLs stay at <url>.
//
// Test controls:
//   POST /_emulator/faults {"repo": "o/r", "faults": [{"route": "upload"|"create"|"publish"|"list-assets"
//        |"rename-asset"|"delete-asset"|"list-artifacts"|"download-artifact"|"get-ref"|"create-ref"
//        |"update-ref"|"delete-ref" (these: kind "status" only; a rename-asset fault's "asset"
//        is the name the PATCH asks for, a delete-asset fault's the name of the asset deleted),
//        "kind": "secondary" | "starter502" | "status" | "race" | "drop-after-store" | "exists422" | "slow",
//        "status": 502, "retryAfter": 1, "ms": 200, "times": 1, "asset": "only-this-name"}], "replace": false}
//        (faults are added to those pending; "replace": true drops those first)
//        ("asset" also applies to a staged copy of that name, `stevedore-<8 hex>-<name>`)
//        "slow": the request waits `ms` and is then served normally; an upload waits after its
//        asset record exists (state `starter`) and before it reads the body, as a slow upstream.
//   POST /_emulator/immutable {"repo": "o/r"}  -> published releases of the repo refuse uploads
//   POST /_emulator/nodigest {"repo": "o/r"}   -> assets carry no `digest` (older GHES); clients
//        hash them by downloading (GET .../releases/assets/<id>, accept application/octet-stream)
//   GET  /_emulator/state?repo=o/r -> {"releases": [...with assets], "calls": [{"method","route","status"}],
//        "refs": {"refs/tags/<tag>": "<sha>"} (git references, see gitRefRoute),
//        "transitions": [{"release", "tag", "at", "assets": [names uploaded at that moment],
//        "digests": {name: digest at that moment}}]} (every draft -> published transition, in order)
//   POST /_emulator/release {"repo": "o/r", "tag": "v1", "draft": true, "target_commitish": "<sha>",
//        "assets": [{"name", "content", "label", "state", "updated_at"}]} -> seeds a release as an
//        earlier run left it (`updated_at`: an RFC 3339 time, default now; assets carry
//        `created_at`/`updated_at` as GitHub's do, set on creation, upload and PATCH)
//   POST /_emulator/workflow-run {"repo": "o/r", "run_id": 42, "results": "<ACTIONS_RESULTS_URL>",
//        "backend_run": "<run backend id>", "token": "<token with actions: read>", "public": false,
//        "head_sha": "<sha>"}
//        Makes run `run_id` of `repo` the results-emulator run `backend_run`: the artifacts
//        the official client (or stevedore) uploaded there are what the REST artifact
//        endpoints below list and redirect to. `token` may read the repository's artifacts.
//   POST /_emulator/expire {"repo": "o/r", "artifact_id": 1001} -> the artifact is expired
//
// Artifacts of a workflow run (GitHub REST, "REST API endpoints for GitHub Actions
// artifacts", https://docs.github.com/rest/actions/artifacts; shapes from GitHub's OpenAPI
// description in @octokit/openapi: operations actions/list-workflow-run-artifacts and
// actions/download-artifact, the `artifact` schema and its `artifact-paginated` example):
//   GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts?per_page=&page=&name=&direction=
//   GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/zip -> 302 Location: a signed
//        blob URL, 410 when expired, 404 when unknown
// The official client calls them in @actions/artifact (actions/toolkit 4b9afa4c,
// packages/artifact/src/internal/find/list-artifacts.ts, get-artifact.ts, and
// download/download-artifact.ts `downloadArtifactPublic`: `redirect: 'manual'`, a 302
// required, then the `location` header fetched without the token).
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { readBody } from './http-util.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const scenarios = path.join(here, 'node_modules/@octokit/fixtures/scenarios/api.github.com')
const recorded = (name) => JSON.parse(readFileSync(path.join(scenarios, name, 'normalized-fixture.json'), 'utf8'))
const assetsScenario = recorded('release-assets')
const conflictScenario = recorded('release-assets-conflict')
// Templates: a release (GET by tag), an asset (upload 201), the 422 duplicate-asset body.
const RELEASE = assetsScenario.find((r) => r.method === 'get' && r.path.includes('/releases/tags/')).response
const ASSET = assetsScenario.find((r) => r.method === 'post' && r.status === 201).response
const ASSET_EXISTS = conflictScenario.find((r) => r.method === 'post' && r.status === 422).response
const NOT_FOUND = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }
// Check runs: no recording in @octokit/fixtures, so the example of GitHub's OpenAPI
// description (@octokit/openapi) is the template.
const openapi = JSON.parse(readFileSync(path.join(here, 'node_modules/@octokit/openapi/generated/api.github.com.json'), 'utf8'))
const CHECK_RUN = openapi.components.examples['check-run-example-of-completed-conclusion'].value
// Generated release notes: no recording either; the OpenAPI example, its `body` naming the tag.
const NOTES = openapi.components.examples['release-notes-content'].value
const checkRuns = new Map() // "o/r" -> [{id, name, head_sha, status, conclusion, output, annotations: []}]

function checkRunJson(name, c) {
  return {
    ...CHECK_RUN,
    id: c.id,
    name: c.name,
    head_sha: c.head_sha,
    status: c.status,
    conclusion: c.conclusion,
    url: `${base}/repos/${name}/check-runs/${c.id}`,
    html_url: `${base}/${name}/runs/${c.id}`,
    output: { ...CHECK_RUN.output, title: c.output.title, summary: c.output.summary, text: c.output.text ?? null, annotations_count: c.annotations.length, annotations_url: `${base}/repos/${name}/check-runs/${c.id}/annotations` },
  }
}

async function checkRunRoute(req, res, name, id) {
  const body = JSON.parse((await readBody(req)).toString('utf8') || '{}')
  const annotations = body.output?.annotations ?? []
  const log = (route, status) => {
    if (!calls.has(name)) calls.set(name, [])
    calls.get(name).push({ method: req.method, route, status })
  }
  if (annotations.length > 50) {
    log(id ? 'update-check-run' : 'create-check-run', 422)
    return send(res, 422, { message: 'Validation Failed', errors: ['Only 50 annotations are allowed per request'], documentation_url: 'https://docs.github.com/rest/checks/runs' })
  }
  if (!checkRuns.has(name)) checkRuns.set(name, [])
  const list = checkRuns.get(name)
  let c
  if (id) {
    c = list.find((x) => x.id === Number(id))
    if (!c) return send(res, 404, NOT_FOUND)
  } else {
    if (!body.name || !body.head_sha) return send(res, 422, { message: 'Validation Failed', documentation_url: 'https://docs.github.com/rest/checks/runs' })
    c = { id: nextId++, name: body.name, head_sha: body.head_sha, status: 'queued', conclusion: null, output: { title: '', summary: '' }, annotations: [] }
    list.push(c)
  }
  for (const k of ['status', 'conclusion']) if (k in body) c[k] = body[k]
  if (body.output) c.output = { title: body.output.title, summary: body.output.summary, text: body.output.text }
  c.annotations.push(...annotations)
  log(id ? 'update-check-run' : 'create-check-run', id ? 200 : 201)
  return send(res, id ? 200 : 201, checkRunJson(name, c))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

let base = ''
const repos = new Map() // "o/r" -> {releases: [], immutable: false}
const faults = new Map()
const calls = new Map()
let nextId = 5000

function repo(name) {
  if (!repos.has(name)) {
    repos.set(name, { refs: new Map(), releases: [], immutable: false, nodigest: false, transitions: [], runs: new Map(), readers: new Set(), public: false, expired: new Set(), id: nextId++ })
  }
  return repos.get(name)
}

// GitHub's times have whole seconds (`2013-02-27T19:35:32Z` in the REST docs' examples).
function stamp() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
}

// A fault may name the one asset it applies to; it applies to that asset's staged copies
// too (`stevedore-<8 hex>-<name>`, uploaded under a temporary name and renamed into place),
// so a test names what the job ships rather than a name it cannot know.
function faultFor(f, asset) {
  if (!f.asset || f.asset === asset) return true
  return typeof asset === 'string' && /^stevedore-[0-9a-f]{8}-/.test(asset) && asset.slice(19) === f.asset
}

function take(name, route, asset) {
  const list = faults.get(name) ?? []
  const i = list.findIndex((f) => f.route === route && faultFor(f, asset))
  if (i < 0) return null
  const f = list[i]
  f.times = (f.times ?? 1) - 1
  if (f.times <= 0) list.splice(i, 1)
  return f
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', ...headers })
  res.end(text)
}

// Where the client reached this server: its loopback `Host` (a proxy's port), else `base`.
function originOf(req) {
  const host = req.headers.host ?? ''
  return /^(127\.0\.0\.1|localhost):\d+$/.test(host) ? `http://${host}` : base
}

// The recorded payloads with this emulator's ids, names and addresses; API URLs at `origin`.
function releaseJson(name, r, origin = base) {
  const api = `${origin}/repos/${name}/releases/${r.id}`
  return {
    ...RELEASE,
    url: api,
    assets_url: `${api}/assets`,
    upload_url: `${origin}/uploads/repos/${name}/releases/${r.id}/assets{?name,label}`,
    html_url: `${base}/${name}/releases/tag/${encodeURIComponent(r.tag_name)}`,
    id: r.id,
    tag_name: r.tag_name,
    name: r.name,
    body: r.body ?? null,
    target_commitish: r.target_commitish ?? 'main',
    draft: r.draft,
    prerelease: r.prerelease,
    immutable: !r.draft && repo(name).immutable,
    created_at: r.created_at,
    published_at: r.draft ? null : r.published_at,
    discussion_url: r.discussion_url,
    assets: r.assets.map((a) => assetJson(name, a)),
  }
}

// A release published with a discussion category opens a discussion (REST docs, "Create a
// release": "a discussion of the specified category is created and linked to the
// release"); the release then carries its `discussion_url`.
function openDiscussion(name, rel) {
  if (rel.discussion_category_name && !rel.discussion_url) {
    rel.discussion_url = `${base}/${name}/discussions/${nextId++}`
  }
}

// A release became visible: what people saw at that moment.
function recordTransition(name, rel) {
  const uploaded = rel.assets.filter((a) => a.state === 'uploaded')
  repo(name).transitions.push({ release: rel.id, tag: rel.tag_name, at: new Date().toISOString(), assets: uploaded.map((a) => a.name), digests: Object.fromEntries(uploaded.map((a) => [a.name, a.digest])) })
}

function assetJson(name, a) {
  return {
    ...ASSET,
    url: `${base}/repos/${name}/releases/assets/${a.id}`,
    browser_download_url: `${base}/${name}/releases/download/${encodeURIComponent(a.tag)}/${encodeURIComponent(a.name)}`,
    id: a.id,
    name: a.name,
    label: a.label,
    state: a.state,
    created_at: a.created_at,
    updated_at: a.updated_at,
    content_type: a.content_type,
    size: a.size,
    digest: repo(name).nodigest ? null : a.digest,
  }
}

// The name GitHub stores an uploaded asset under. GitHub's REST docs ("Upload a release
// asset", https://docs.github.com/en/rest/releases/assets#upload-a-release-asset) say only
// that it "renames asset filenames that have special characters, non-alphanumeric
// characters, and leading or trailing periods"; there is no table. What users observed:
// - a space becomes `.`: github-release/github-release#93, softprops/action-gh-release#446
//   (which matches existing assets by `name.replace(' ', '.')`), appveyor/ci#1971;
// - `~` and `:` become `.`: softprops/action-gh-release#159;
// - `(` and `)` become `.`: actions/upload-release-asset#57, action-gh-release#159;
// - `+` is kept when sent encoded (github/rest-api-description#2968, JMRI/JMRI#5544);
// - a leading `.` gets `default` before it (`.config` -> `default.config`):
//   softprops/action-gh-release#741.
// So: every character but ASCII letters, digits, `-`, `_`, `.` and `+` becomes `.` (brackets
// and other punctuation assumed alike), then a leading `.` is prefixed with `default`.
// Trailing periods are left as they are (no observation found).
function githubName(name) {
  let out = Array.from(name, (c) => (/[A-Za-z0-9._+-]/.test(c) ? c : '.')).join('')
  if (out.startsWith('.')) out = 'default' + out
  return out
}

// GitHub refuses release notes over 125000 characters on create and update (422, field
// `body`, "body is too long (maximum is 125000 characters)"); undocumented, widely reported.
const MAX_BODY = 125000
function bodyTooLong(body) {
  return typeof body.body === 'string' && body.body.length > MAX_BODY
    ? { message: 'Validation Failed', errors: [{ resource: 'Release', code: 'custom', field: 'body', message: `body is too long (maximum is ${MAX_BODY} characters)` }], documentation_url: 'https://docs.github.com/rest/releases/releases#update-a-release', status: '422' }
    : null
}

function validationFailed(resource, field) {
  return { ...ASSET_EXISTS, errors: [{ ...ASSET_EXISTS.errors[0], resource, field }] }
}

function paginate(req, res, url, items) {
  const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100)
  const page = Number(url.searchParams.get('page') ?? 1)
  const slice = items.slice((page - 1) * perPage, page * perPage)
  const headers = {}
  if (page * perPage < items.length) {
    const next = new URL(url)
    next.searchParams.set('page', String(page + 1))
    headers.link = `<${originOf(req)}${next.pathname}${next.search}>; rel="next"`
  }
  send(res, 200, slice, headers)
}

// Git references (REST "Git references": get `git/ref/{ref}`, create `git/refs`, update
// `git/refs/{ref}` with `force`, delete), for tags only; bodies shaped as the OpenAPI
// description's `git-ref` example. A tag is also created when a release is published and
// its tag does not exist yet, at the release's `target_commitish` ("Create a release": the
// tag is created from `target_commitish` when it does not exist; drafts create none).
// Ancestry is unknown here, so an update without `force` is refused unless it leaves the
// reference where it is.
const GIT_REF = openapi.components.examples['git-ref'].value
// The commit a branch name stands for when a release targets a branch (`main`).
const BRANCH_HEAD = 'aa218f56b14c9653891f9e74264a383fa43fefbd'

function refJson(name, ref, sha) {
  return {
    ...GIT_REF,
    ref,
    url: `${base}/repos/${name}/git/${ref}`,
    object: { ...GIT_REF.object, sha, url: `${base}/repos/${name}/git/commits/${sha}` },
  }
}

function createTagAt(name, tag, target) {
  const refs = repo(name).refs
  if (!refs.has(`refs/tags/${tag}`)) {
    refs.set(`refs/tags/${tag}`, /^[0-9a-f]{40}$/i.test(target ?? '') ? target.toLowerCase() : BRANCH_HEAD)
  }
}

async function gitRefRoute(req, res, name, kind, ref) {
  const r = repo(name)
  const log = (route, status) => {
    if (!calls.has(name)) calls.set(name, [])
    calls.get(name).push({ method: req.method, route, status })
  }
  const full = ref ? `refs/${decodeURIComponent(ref)}` : null
  const route = kind === 'ref' ? 'get-ref' : req.method === 'POST' ? 'create-ref' : req.method === 'PATCH' ? 'update-ref' : 'delete-ref'
  const f = take(name, route, null)
  if (f && f.kind === 'status') {
    log(route, f.status ?? 502)
    return send(res, f.status ?? 502, { message: 'Server Error' })
  }
  if (kind === 'ref' && req.method === 'GET') {
    const sha = r.refs.get(full)
    log('get-ref', sha ? 200 : 404)
    return sha ? send(res, 200, refJson(name, full, sha)) : send(res, 404, NOT_FOUND)
  }
  if (kind === 'refs' && !ref && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)).toString('utf8') || '{}')
    if (!/^refs\/[^/]/.test(body.ref ?? '') || !/^[0-9a-f]{40}$/i.test(body.sha ?? '')) {
      log('create-ref', 422)
      return send(res, 422, { message: 'Invalid request.', documentation_url: 'https://docs.github.com/rest/git/refs#create-a-reference' })
    }
    if (r.refs.has(body.ref)) {
      log('create-ref', 422)
      return send(res, 422, { message: 'Reference already exists', documentation_url: 'https://docs.github.com/rest/git/refs#create-a-reference' })
    }
    r.refs.set(body.ref, body.sha.toLowerCase())
    log('create-ref', 201)
    return send(res, 201, refJson(name, body.ref, body.sha.toLowerCase()))
  }
  if (kind === 'refs' && ref && req.method === 'PATCH') {
    const body = JSON.parse((await readBody(req)).toString('utf8') || '{}')
    if (!r.refs.has(full)) {
      log('update-ref', 422)
      return send(res, 422, { message: 'Reference does not exist', documentation_url: 'https://docs.github.com/rest/git/refs#update-a-reference' })
    }
    if (!body.force && r.refs.get(full) !== String(body.sha).toLowerCase()) {
      log('update-ref', 422)
      return send(res, 422, { message: 'Update is not a fast forward', documentation_url: 'https://docs.github.com/rest/git/refs#update-a-reference' })
    }
    r.refs.set(full, String(body.sha).toLowerCase())
    log('update-ref', 200)
    return send(res, 200, refJson(name, full, r.refs.get(full)))
  }
  if (kind === 'refs' && ref && req.method === 'DELETE') {
    const had = r.refs.delete(full)
    log('delete-ref', had ? 204 : 422)
    if (!had) return send(res, 422, { message: 'Reference does not exist', documentation_url: 'https://docs.github.com/rest/git/refs#delete-a-reference' })
    res.writeHead(204)
    return res.end()
  }
  return send(res, 404, NOT_FOUND)
}

async function handle(req, res, url) {
  const cm = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/check-runs(?:\/(\d+))?$/)
  if (cm && (req.method === 'POST' || req.method === 'PATCH')) return checkRunRoute(req, res, cm[1], cm[2])
  const gm = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/git\/(ref|refs)(?:\/(.+))?$/)
  if (gm) return gitRefRoute(req, res, gm[1], gm[2], gm[3])
  const m = url.pathname.match(/^\/(uploads\/)?repos\/([^/]+\/[^/]+)\/releases(?:\/(.*))?$/)
  if (!m) return send(res, 404, NOT_FOUND)
  const [, upload, name, rest = ''] = m
  const r = repo(name)
  const log = (route, status) => {
    if (!calls.has(name)) calls.set(name, [])
    calls.get(name).push({ method: req.method, route, status })
  }
  const byId = (id) => r.releases.find((x) => x.id === Number(id))
  const fault = async (route) => {
    const f = take(name, route, url.searchParams.get('name'))
    if (!f) return false
    if (f.kind === 'secondary') {
      await readBody(req)
      send(res, 403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits' }, { 'retry-after': String(f.retryAfter ?? 1) })
      log(route, 403)
      return true
    }
    if (f.kind === 'status') {
      await readBody(req)
      send(res, f.status ?? 502, { message: 'Server Error' })
      log(route, f.status ?? 502)
      return true
    }
    if (f.kind === 'slow' && route !== 'upload') {
      await sleep(f.ms ?? 200)
      return false
    }
    return f // handled by the route (starter502, race, slow upload)
  }

  // Uploads host.
  if (upload) {
    const am = rest.match(/^(\d+)\/assets$/)
    const rel = am && byId(am[1])
    if (!rel || req.method !== 'POST') return send(res, 404, NOT_FOUND)
    const f = await fault('upload')
    if (f === true) return
    const assetName = githubName(url.searchParams.get('name') ?? '')
    if (!req.headers['content-length']) return send(res, 411, { message: 'Length Required' })
    if (!rel.draft && r.immutable) {
      await readBody(req)
      log('upload', 422)
      return send(res, 422, { message: 'Cannot upload assets to an immutable release.', documentation_url: 'https://docs.github.com/rest' })
    }
    if (rel.assets.some((a) => a.name === assetName)) {
      await readBody(req)
      log('upload', 422)
      return send(res, 422, validationFailed('ReleaseAsset', 'name'))
    }
    const asset = { id: nextId++, tag: rel.tag_name, name: assetName, label: url.searchParams.get('label') ?? '', state: 'starter', content_type: req.headers['content-type'], size: 0, digest: null, data: null, created_at: stamp(), updated_at: stamp() }
    rel.assets.push(asset)
    if (f && f.kind === 'slow') await sleep(f.ms ?? 200)
    const data = await readBody(req)
    if (f && f.kind === 'starter502') {
      // The upstream failed after the asset record was made: it stays in state `starter`.
      log('upload', 502)
      return send(res, 502, { message: 'Bad Gateway' })
    }
    if (f && (f.kind === 'drop-after-store' || f.kind === 'exists422')) {
      // The asset landed, but the client never hears so: a dropped connection, or the 422
      // a duplicate attempt gets.
      Object.assign(asset, { state: 'uploaded', size: data.length, data, digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), updated_at: stamp() })
      if (f.kind === 'drop-after-store') {
        log('upload', 0)
        return req.socket.destroy()
      }
      log('upload', 422)
      return send(res, 422, validationFailed('ReleaseAsset', 'name'))
    }
    if (data.length !== Number(req.headers['content-length'])) {
      rel.assets.splice(rel.assets.indexOf(asset), 1)
      return send(res, 400, { message: 'Body shorter than Content-Length' })
    }
    Object.assign(asset, { state: 'uploaded', size: data.length, data, digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), updated_at: stamp() })
    log('upload', 201)
    return send(res, 201, assetJson(name, asset))
  }

  // API host.
  if (rest === '' && req.method === 'GET') {
    log('list', 200)
    return paginate(req, res, url, [...r.releases].reverse().map((x) => releaseJson(name, x, originOf(req))))
  }
  if (rest === '' && req.method === 'POST') {
    const f = await fault('create')
    if (f === true) return
    const body = JSON.parse((await readBody(req)).toString('utf8') || '{}')
    const published = () => r.releases.find((x) => !x.draft && x.tag_name === body.tag_name)
    if (bodyTooLong(body)) {
      log('create', 422)
      return send(res, 422, bodyTooLong(body))
    }
    if (f && f.kind === 'race') {
      // Another job created and published the release an instant earlier.
      r.releases.push({ id: nextId++, tag_name: body.tag_name, name: body.name ?? body.tag_name, draft: false, prerelease: false, assets: [], created_at: new Date().toISOString(), published_at: new Date().toISOString() })
      recordTransition(name, r.releases[r.releases.length - 1])
    }
    if (published()) {
      log('create', 422)
      return send(res, 422, validationFailed('Release', 'tag_name'))
    }
    const now = new Date().toISOString()
    const rel = { id: nextId++, tag_name: body.tag_name, name: body.name ?? body.tag_name, body: body.body ?? null, target_commitish: body.target_commitish ?? 'main', draft: Boolean(body.draft), prerelease: Boolean(body.prerelease), assets: [], created_at: now, published_at: body.draft ? null : now, discussion_category_name: body.discussion_category_name ?? null }
    if (!rel.draft) openDiscussion(name, rel)
    r.releases.push(rel)
    if (!rel.draft) {
      createTagAt(name, rel.tag_name, rel.target_commitish)
      recordTransition(name, rel)
    }
    log('create', 201)
    return send(res, 201, releaseJson(name, rel, originOf(req)))
  }
  if (rest === 'generate-notes' && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)).toString('utf8') || '{}')
    if (!body.tag_name) return send(res, 422, { message: 'Validation Failed', documentation_url: 'https://docs.github.com/rest/releases/releases#generate-release-notes-content-for-a-release' })
    log('generate-notes', 200)
    // GitHub's generated notes end with the compare link of the range they cover
    // (`previous_tag_name`: "the starting point for the release notes", REST docs).
    const range = body.previous_tag_name ? `\n\n**Full Changelog**: ${base}/${name}/compare/${body.previous_tag_name}...${body.tag_name}` : ''
    return send(res, 200, { ...NOTES, name: NOTES.name.replaceAll('v1.0.0', body.tag_name), body: NOTES.body.replaceAll('v1.0.0', body.tag_name) + range })
  }
  const tm = rest.match(/^tags\/(.+)$/)
  if (tm && req.method === 'GET') {
    const rel = r.releases.find((x) => !x.draft && x.tag_name === decodeURIComponent(tm[1]))
    log('get-by-tag', rel ? 200 : 404)
    return rel ? send(res, 200, releaseJson(name, rel, originOf(req))) : send(res, 404, NOT_FOUND)
  }
  const am = rest.match(/^assets\/(\d+)$/)
  if (am && req.method === 'PATCH') {
    const body = JSON.parse((await readBody(req)).toString('utf8') || '{}')
    const f = take(name, 'rename-asset', body.name)
    if (f && f.kind === 'status') {
      log('rename-asset', f.status ?? 502)
      return send(res, f.status ?? 502, { message: 'Server Error' })
    }
    for (const rel of r.releases) {
      const a = rel.assets.find((x) => x.id === Number(am[1]))
      if (!a) continue
      if (body.name && rel.assets.some((x) => x !== a && x.name === body.name)) {
        log('rename-asset', 422)
        return send(res, 422, validationFailed('ReleaseAsset', 'name'))
      }
      if (body.name) a.name = body.name
      if ('label' in body) a.label = body.label
      a.updated_at = stamp()
      log('rename-asset', 200)
      return send(res, 200, assetJson(name, a))
    }
    return send(res, 404, NOT_FOUND)
  }
  if (am && req.method === 'GET') {
    for (const rel of r.releases) {
      const a = rel.assets.find((x) => x.id === Number(am[1]))
      if (!a) continue
      if ((req.headers.accept ?? '').includes('application/octet-stream')) {
        // GitHub redirects to storage; the bytes are served here directly.
        log('download-asset', 200)
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': a.data ? a.data.length : 0 })
        return res.end(a.data ?? Buffer.alloc(0))
      }
      log('get-asset', 200)
      return send(res, 200, assetJson(name, a))
    }
    return send(res, 404, NOT_FOUND)
  }
  if (am && req.method === 'DELETE') {
    for (const rel of r.releases) {
      const i = rel.assets.findIndex((a) => a.id === Number(am[1]))
      if (i >= 0) {
        const f = take(name, 'delete-asset', rel.assets[i].name)
        if (f && f.kind === 'status') {
          log('delete-asset', f.status ?? 502)
          return send(res, f.status ?? 502, { message: 'Server Error' })
        }
        rel.assets.splice(i, 1)
        log('delete-asset', 204)
        res.writeHead(204)
        return res.end()
      }
    }
    return send(res, 404, NOT_FOUND)
  }
  const lm = rest.match(/^(\d+)\/assets$/)
  if (lm && req.method === 'GET') {
    const rel = byId(lm[1])
    if (!rel) return send(res, 404, NOT_FOUND)
    if ((await fault('list-assets')) === true) return
    log('list-assets', 200)
    return paginate(req, res, url, rel.assets.map((a) => assetJson(name, a)))
  }
  const im = rest.match(/^(\d+)$/)
  if (im) {
    const rel = byId(im[1])
    if (!rel) return send(res, 404, NOT_FOUND)
    if (req.method === 'GET') {
      log('get', 200)
      return send(res, 200, releaseJson(name, rel, originOf(req)))
    }
    if (req.method === 'DELETE') {
      r.releases.splice(r.releases.indexOf(rel), 1)
      log('delete-release', 204)
      res.writeHead(204)
      return res.end()
    }
    if (req.method === 'PATCH') {
      const f = await fault('publish')
      if (f === true) return
      const body = JSON.parse((await readBody(req)).toString('utf8') || '{}')
      if (bodyTooLong(body)) {
        log('update', 422)
        return send(res, 422, bodyTooLong(body))
      }
      const tag = body.tag_name ?? rel.tag_name
      const published = !(body.draft ?? rel.draft)
      if (published && r.releases.some((x) => x !== rel && !x.draft && x.tag_name === tag)) {
        log(rel.draft ? 'publish' : 'update', 422)
        return send(res, 422, validationFailed('Release', 'tag_name'))
      }
      for (const k of ['name', 'prerelease', 'body', 'discussion_category_name', 'tag_name', 'target_commitish']) if (k in body) rel[k] = body[k]
      // Download addresses name the release's tag: a renamed tag moves them.
      for (const a of rel.assets) a.tag = rel.tag_name
      if (body.draft === false && rel.draft) {
        rel.draft = false
        rel.published_at = new Date().toISOString()
        createTagAt(name, rel.tag_name, rel.target_commitish)
        openDiscussion(name, rel)
        recordTransition(name, rel)
      } else if (body.draft === true && !rel.draft) {
        // Back to a draft ("`true` makes the release a draft", Update a release); its tag
        // stays. What people saw leave is recorded too.
        rel.draft = true
        rel.published_at = null
        repo(name).transitions.push({ release: rel.id, tag: rel.tag_name, at: new Date().toISOString(), unpublished: true })
      }
      log('update', 200)
      return send(res, 200, releaseJson(name, rel, originOf(req)))
    }
  }
  send(res, 404, NOT_FOUND)
}

// --- workflow run artifacts ----------------------------------------------------------------
// Every token some repository accepts; any other token is `Bad credentials`.
const knownTokens = new Set()
const ARTIFACT = openapi.components.examples.artifact.value

function registerRun(body) {
  const r = repo(body.repo)
  r.runs.set(Number(body.run_id), {
    results: String(body.results).replace(/\/*$/, '/'),
    backendRun: body.backend_run,
    headSha: body.head_sha ?? ARTIFACT.workflow_run.head_sha,
  })
  if (body.token) {
    r.readers.add(body.token)
    knownTokens.add(body.token)
  }
  if (body.public) r.public = true
}

// The token of an `Authorization: Bearer <t>` or `token <t>` header (Octokit sends the latter).
function tokenOf(req) {
  const m = /^(?:bearer|token)\s+(.+)$/i.exec(req.headers.authorization ?? '')
  return m ? m[1].trim() : null
}

// GitHub's access rules for these endpoints (REST docs above: "Anyone with read access to
// the repository can use this endpoint"; "This endpoint can be used without
// authentication ... if only public resources are requested"): an unknown token is 401
// `Bad credentials`; a private repository the caller cannot read is 404, as GitHub hides
// private repositories; the zip of a public repository needs a token all the same, 403
// `You must have the actions scope to download artifacts.` (observed: brewsci/homebrew-bio
// PR #1332, nextstrain/nextstrain.org PR #643, github/rest-api-description#4569).
// Returns true when the request may go on, having answered it otherwise.
function authorized(req, res, r, download) {
  const token = tokenOf(req)
  if (token !== null && !knownTokens.has(token)) {
    send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' })
    return false
  }
  const reader = token !== null && r.readers.has(token)
  if (!reader && !r.public) {
    send(res, 404, { ...NOT_FOUND, status: '404' })
    return false
  }
  if (download && token === null) {
    send(res, 403, { message: 'You must have the actions scope to download artifacts.', documentation_url: 'https://docs.github.com/rest/actions/artifacts#download-an-artifact', status: '403' })
    return false
  }
  return true
}

// An unsigned JWT naming a run and job, as the results service reads its tokens (the
// emulator decodes `scp` without checking a signature): how this server, standing in for
// GitHub's API in front of the results service, asks it about a run.
function resultsToken(run, job) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url')
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ scp: `Actions.Results:${run}:${job}` })}.x`
}

// The finalized artifacts of a run, as the results emulator holds them.
async function runArtifacts(run) {
  const reply = await fetch(`${run.results}_emulator/state?run=${encodeURIComponent(run.backendRun)}`)
  if (!reply.ok) throw new Error(`results emulator state: ${reply.status}`)
  const { artifacts } = await reply.json()
  return artifacts.filter((a) => a.finalized)
}

// GitHub's default retention when the upload set none (90 days).
const RETENTION_MS = 90 * 24 * 3600 * 1000

function artifactJson(origin, name, r, runId, run, a) {
  const api = `${origin}/repos/${name}/actions/artifacts/${a.id}`
  const expiresAt = a.expires_at ?? new Date(Date.parse(a.created_at) + RETENTION_MS).toISOString()
  return {
    ...ARTIFACT,
    id: a.id,
    // GitHub's global node ID, as in the example ("MDg6QXJ0aWZhY3QxMQ==" is "08:Artifact11").
    node_id: Buffer.from(`08:Artifact${a.id}`).toString('base64'),
    name: a.name,
    size_in_bytes: a.size,
    url: api,
    archive_download_url: `${api}/zip`,
    expired: r.expired.has(a.id) || Date.parse(expiresAt) <= Date.now(),
    created_at: a.created_at,
    expires_at: expiresAt,
    updated_at: a.created_at,
    digest: a.digest,
    workflow_run: { ...ARTIFACT.workflow_run, id: runId, repository_id: r.id, head_repository_id: r.id, head_sha: run.headSha },
  }
}

async function actionsRoute(req, res, url, name, rest) {
  const r = repo(name)
  const log = (route, status) => {
    if (!calls.has(name)) calls.set(name, [])
    calls.get(name).push({ method: req.method, route, status })
  }
  const lm = rest.match(/^runs\/(\d+)\/artifacts$/)
  if (lm && req.method === 'GET') {
    if (!authorized(req, res, r, false)) return log('list-artifacts', res.statusCode)
    const runId = Number(lm[1])
    const run = r.runs.get(runId)
    if (!run) {
      log('list-artifacts', 404)
      return send(res, 404, { ...NOT_FOUND, status: '404' })
    }
    const f = take(name, 'list-artifacts')
    if (f && f.kind === 'status') {
      log('list-artifacts', f.status ?? 502)
      return send(res, f.status ?? 502, { message: 'Server Error' })
    }
    let list = await runArtifacts(run)
    const wanted = url.searchParams.get('name')
    if (wanted) list = list.filter((a) => a.name === wanted)
    // `direction` defaults to desc (the OpenAPI parameter `direction`): newest first.
    list.sort((a, b) => (url.searchParams.get('direction') === 'asc' ? a.id - b.id : b.id - a.id))
    const perPage = Math.max(1, Math.min(Number(url.searchParams.get('per_page') ?? 30), 100))
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1))
    const origin = originOf(req)
    const items = list.slice((page - 1) * perPage, page * perPage).map((a) => artifactJson(origin, name, r, runId, run, a))
    const headers = {}
    const last = Math.max(1, Math.ceil(list.length / perPage))
    const at = (p) => {
      const u = new URL(url)
      u.searchParams.set('page', String(p))
      return `<${origin}${u.pathname}${u.search}>`
    }
    const links = []
    if (page < last) links.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`)
    if (page > 1) links.push(`${at(1)}; rel="first"`, `${at(page - 1)}; rel="prev"`)
    if (links.length) headers.link = links.join(', ')
    log('list-artifacts', 200)
    return send(res, 200, { total_count: list.length, artifacts: items }, headers)
  }
  const zm = rest.match(/^artifacts\/(\d+)\/([^/]+)$/)
  if (zm && req.method === 'GET') {
    if (!authorized(req, res, r, true)) return log('download-artifact', res.statusCode)
    const id = Number(zm[1])
    let found = null
    for (const [, run] of r.runs) {
      const a = (await runArtifacts(run)).find((x) => x.id === id)
      if (a) {
        found = { run, a }
        break
      }
    }
    if (!found || zm[2] !== 'zip') {
      log('download-artifact', 404)
      return send(res, 404, { ...NOT_FOUND, status: '404' })
    }
    const f = take(name, 'download-artifact')
    if (f && f.kind === 'status') {
      log('download-artifact', f.status ?? 502)
      return send(res, f.status ?? 502, { message: 'Server Error' })
    }
    const expiresAt = found.a.expires_at ? Date.parse(found.a.expires_at) : Date.parse(found.a.created_at) + RETENTION_MS
    if (r.expired.has(id) || expiresAt <= Date.now()) {
      log('download-artifact', 410)
      return send(res, 410, { message: 'Artifact has expired', documentation_url: 'https://docs.github.com/rest/actions/artifacts#download-an-artifact', status: '410' })
    }
    // GitHub answers with a redirect to storage, signed for a short while ("This URL
    // expires after 1 minute"): the results service's own signed URL for the artifact,
    // asked for as the service's clients ask (GetSignedArtifactURL of the uploading job).
    const reply = await fetch(`${found.run.results}twirp/github.actions.results.api.v1.ArtifactService/GetSignedArtifactURL`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${resultsToken(found.a.run, found.a.job)}` },
      body: JSON.stringify({ workflow_run_backend_id: found.a.run, workflow_job_run_backend_id: found.a.job, name: found.a.name }),
    })
    if (!reply.ok) {
      log('download-artifact', 500)
      return send(res, 500, { message: 'Failed to generate URL to download artifact', status: '500' })
    }
    const { signed_url: location } = await reply.json()
    log('download-artifact', 302)
    res.writeHead(302, { location, 'content-length': 0, 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999' })
    return res.end()
  }
  send(res, 404, { ...NOT_FOUND, status: '404' })
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1')
    if (url.pathname === '/_emulator/faults' && req.method === 'POST') {
      const { repo: name, faults: list, replace } = JSON.parse((await readBody(req)).toString('utf8'))
      faults.set(name, replace ? list : [...(faults.get(name) ?? []), ...list])
      return send(res, 200, { ok: true })
    }
    if (url.pathname === '/_emulator/immutable' && req.method === 'POST') {
      const { repo: name } = JSON.parse((await readBody(req)).toString('utf8'))
      repo(name).immutable = true
      return send(res, 200, { ok: true })
    }
    if (url.pathname === '/_emulator/nodigest' && req.method === 'POST') {
      const { repo: name } = JSON.parse((await readBody(req)).toString('utf8'))
      repo(name).nodigest = true
      return send(res, 200, { ok: true })
    }
    if (url.pathname === '/_emulator/release' && req.method === 'POST') {
      // Seeds a release (published or draft) with assets, as an earlier run would leave it.
      const { repo: name, tag, draft, target_commitish: target, assets = [] } = JSON.parse((await readBody(req)).toString('utf8'))
      const now = new Date().toISOString()
      const rel = { id: nextId++, tag_name: tag, name: tag, target_commitish: target, draft: Boolean(draft), prerelease: false, assets: [], created_at: now, published_at: draft ? null : now }
      for (const a of assets) {
        const data = Buffer.from(a.content ?? '')
        rel.assets.push({ id: nextId++, tag, name: a.name, label: a.label ?? '', state: a.state ?? 'uploaded', content_type: 'application/octet-stream', size: data.length, data, digest: 'sha256:' + createHash('sha256').update(data).digest('hex'), created_at: a.updated_at ?? stamp(), updated_at: a.updated_at ?? stamp() })
      }
      repo(name).releases.push(rel)
      if (!rel.draft) createTagAt(name, tag, target)
      return send(res, 200, releaseJson(name, rel))
    }
    if (url.pathname === '/_emulator/state') {
      const name = url.searchParams.get('repo')
      const r = repo(name)
      return send(res, 200, {
        releases: r.releases.map((x) => ({ ...releaseJson(name, x), discussion_category_name: x.discussion_category_name ?? null, assets: x.assets.map((a) => ({ ...assetJson(name, a), content_base64: a.data ? a.data.toString('base64') : null })) })),
        calls: calls.get(name) ?? [],
        transitions: r.transitions,
        refs: Object.fromEntries(r.refs),
        checkRuns: (checkRuns.get(name) ?? []).map((c) => ({ ...checkRunJson(name, c), annotations: c.annotations })),
        pendingFaults: faults.get(name) ?? [],
      })
    }
    if (url.pathname === '/_emulator/workflow-run' && req.method === 'POST') {
      const body = JSON.parse((await readBody(req)).toString('utf8'))
      registerRun(body)
      return send(res, 200, { ok: true })
    }
    if (url.pathname === '/_emulator/expire' && req.method === 'POST') {
      const { repo: name, artifact_id: id } = JSON.parse((await readBody(req)).toString('utf8'))
      repo(name).expired.add(Number(id))
      return send(res, 200, { ok: true })
    }
    const artifactRoute = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/actions\/(.*)$/)
    if (artifactRoute) return await actionsRoute(req, res, url, artifactRoute[1], artifactRoute[2])
    await handle(req, res, url)
  } catch (e) {
    if (!res.headersSent) send(res, 500, { message: String(e?.message ?? e) })
    else res.destroy()
  }
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
base = `http://127.0.0.1:${server.address().port}`
process.stdout.write(JSON.stringify({ url: base }) + '\n')
process.stdin.on('end', () => process.exit(0))
process.stdin.on('close', () => process.exit(0))
process.stdin.resume()
