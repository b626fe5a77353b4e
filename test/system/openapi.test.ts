// The OpenAPI document at /api/schema/ is one a client generator can use: it passes `redocly lint`
// (recommended rules, redocly.yaml), and every operation has an operationId, tags, its security
// (checked against what the route really does without a key) and its error responses, whose
// shapes are the bodies the server really sends.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Ajv } from 'ajv'
import { projectRoot } from '../../server/config.ts'
import { api, build } from '../helper.ts'

const redocly = path.join(projectRoot, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js')
const METHODS = ['get', 'put', 'post', 'delete', 'patch']

interface Lint { code: number; problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>; output: string }

/** `redocly lint` of a document, with Node 24 (the CLI's shebang would find Node 20) and no telemetry. */
async function lint(doc: unknown, dir: string): Promise<Lint> {
  const file = path.join(dir, `schema-${randomUUID()}.json`)
  await writeFile(file, JSON.stringify(doc))
  const child = spawn(process.execPath, [redocly, 'lint', '--config', path.join(projectRoot, 'redocly.yaml'), '--format=json', '--max-problems=1000', file], {
    cwd: projectRoot,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  let problems: Lint['problems'] = []
  try { problems = JSON.parse(stdout).problems } catch { /* no JSON: the output says why */ }
  const listed = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(', ')}`)
  return { code, problems, output: [...listed, stderr.trim()].filter(Boolean).join('\n') }
}

type Operation = Record<string, any> & { method: string; path: string }
const operationsOf = (doc: any): Operation[] => Object.entries<any>(doc.paths).flatMap(([p, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ ...item[m], method: m.toUpperCase(), path: p })))
const label = (op: Operation) => `${op.method} ${op.path}`

const { app } = await build(t)
const doc = (await api(app, { method: 'GET', url: '/api/schema/' })).data
const operations = operationsOf(doc)
const dir = await mkdtemp(path.join(tmpdir(), 'conveyor-openapi-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
/** Needs a key: a security requirement, and no empty one (an optional key). */
const needsKey = (op: Operation) => op.security.length > 0 && !op.security.some((r: object) => Object.keys(r).length === 0)

t.test('GET /api/schema/ answers the document', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/api/schema/' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { openapi: /^3\./, info: { title: 'Conveyor API' }, servers: [{ url: '/' }] })
})

t.test('passes redocly lint with the recommended rules (redocly.yaml), without a warning', async (t) => {
  const result = await lint(doc, dir)
  t.equal(result.code, 0, 'redocly lint exits 0', { output: result.output })
  t.same(result.problems, [], 'no errors, no warnings', { output: result.output })
})

t.test('a document without an operationId fails the lint', async (t) => {
  const broken = structuredClone(doc)
  delete broken.paths['/api/v1/auth/login/'].post.operationId
  delete broken.servers
  const result = await lint(broken, dir)
  t.not(result.code, 0, 'a missing servers list is an error')
  t.ok(result.problems.some((p) => p.ruleId === 'operation-operationId'), 'the missing operationId is reported', { output: result.output })
})

t.test('every operation has a unique, URL-safe camelCase operationId', async (t) => {
  t.ok(operations.length > 20, `${operations.length} operations`)
  const ids = operations.map((op) => op.operationId)
  for (const op of operations) t.match(op.operationId, /^[a-z][A-Za-z0-9]*$/, label(op))
  t.equal(new Set(ids).size, ids.length, 'no two alike')
  const byRoute = Object.fromEntries(operations.map((op) => [label(op), op.operationId]))
  t.match(byRoute, {
    'POST /api/v1/auth/registration/': 'authRegistrationCreate',
    'POST /api/v1/auth/login/': 'authLoginCreate',
    'GET /api/v1/auth/user/': 'authUserRetrieve',
    'PATCH /api/v1/auth/user/': 'authUserPartialUpdate',
    'POST /api/v1/text-stats/create/': 'textStatsCreate',
    'GET /api/v1/text-stats/status/{id}/': 'textStatsStatusRetrieve',
    'GET /api/v1/text-stats/list/': 'textStatsList',
    'DELETE /api/v1/text-stats/delete/{id}/': 'textStatsDelete',
    'GET /api/v1/admin/schedules/': 'adminSchedulesList',
    'DELETE /api/v1/admin/schedules/{id}/': 'adminSchedulesDestroy',
  })
})

t.test('every operation has tags and a summary', async (t) => {
  for (const op of operations) {
    t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${label(op)} has tags`)
    t.ok(op.summary, `${label(op)} has a summary`)
  }
})

t.test('the security of each operation is what the route does without a key', async (t) => {
  for (const op of operations) {
    t.ok(Array.isArray(op.security), `${label(op)} declares its security`)
    const url = op.path.replace('{id}', randomUUID()).replace(/\{\w+\}/g, 'x')
    const body = ['POST', 'PUT', 'PATCH'].includes(op.method) ? {} : undefined
    const anonymous = await app.inject({ method: op.method as any, url, payload: body })
    const required = op.security.length > 0 && !op.security.some((r: object) => Object.keys(r).length === 0)
    if (required) {
      t.equal(anonymous.statusCode, 401, `${label(op)} needs a key`)
      t.same(op.security, [{ bearer: [] }, { cookie: [] }], `${label(op)}: bearer or cookie`)
    } else {
      t.not(anonymous.statusCode, 401, `${label(op)} is public (${anonymous.statusCode} without a key)`)
    }
  }
  const byRoute = Object.fromEntries(operations.map((op) => [label(op), op.security]))
  t.same(byRoute['POST /api/v1/auth/login/'], [], 'login is public')
  t.same(byRoute['GET /api/v1/version-info/'], [], 'version-info is public')
  t.same(byRoute['POST /api/v1/auth/logout/'], [{}, { bearer: [] }, { cookie: [] }], 'logout takes a key but does not need one')
})

t.test('every operation documents the errors it can give, as the shared components', async (t) => {
  for (const op of operations) {
    const codes = Object.keys(op.responses).map(Number)
    const expected = [400, 500]
    if (needsKey(op)) expected.push(401)
    if (op.path.startsWith('/api/v1/admin/')) expected.push(403)
    if (op.path.includes('{')) expected.push(404)
    if (['POST', 'PUT', 'PATCH'].includes(op.method)) expected.push(413, 415)
    for (const code of expected) t.ok(codes.includes(code), `${label(op)} documents ${code}`)
    t.ok(codes.some((c) => c >= 200 && c < 300), `${label(op)} documents its success`)
    for (const code of codes.filter((c) => c >= 400 && c !== 503)) {
      t.match(op.responses[code], { $ref: /^#\/components\/responses\/\w+$/ }, `${label(op)} ${code} refers to a component`)
    }
  }
  const byRoute = Object.fromEntries(operations.map((op) => [label(op), Object.keys(op.responses)]))
  t.ok(byRoute['POST /api/v1/auth/login/']!.includes('429'), 'login is throttled')
  t.ok(byRoute['GET /api/v1/text-stats/results/{id}/']!.includes('409'), 'results before completion conflict')
  t.ok(byRoute['POST /api/v1/text-stats/cancel/{id}/']!.includes('409'), 'cancelling a finished request conflicts')
  t.ok(byRoute['DELETE /api/v1/text-stats/delete/{id}/']!.includes('204'), 'delete answers 204')
})

t.test('the error components are the bodies the server sends', async (t) => {
  const ajv = new Ajv({ strict: false })
  const components = doc.components
  const schemaOf = (code: string, op: Operation) => {
    const name = op.responses[code].$ref.split('/').at(-1)
    return components.responses[name].content['application/json'].schema.$ref.split('/').at(-1) as string
  }
  const check = (name: string, body: unknown, what: string) => {
    const validate = ajv.compile(components.schemas[name])
    t.ok(validate(body), `${what}: ${JSON.stringify(body)} is a ${name}`, { errors: validate.errors })
  }
  const find = (l: string) => operations.find((op) => label(op) === l)!
  const status = find('GET /api/v1/text-stats/status/{id}/')
  const login = find('POST /api/v1/auth/login/')

  const noKey = await api(app, { method: 'GET', url: `/api/v1/text-stats/status/${randomUUID()}/` })
  t.equal(noKey.statusCode, 401)
  check(schemaOf('401', status), noKey.data, '401')
  t.equal(schemaOf('401', status), 'ErrorDetail')

  const invalid = await api(app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email: 'ada@example.com', password: 12345 } })
  t.equal(invalid.statusCode, 400)
  check(schemaOf('400', login), invalid.data, '400 on a field')
  const malformed = await api(app, { method: 'POST', url: '/api/v1/auth/login/', payload: '{nope', headers: { 'content-type': 'application/json' } })
  t.equal(malformed.statusCode, 400)
  check(schemaOf('400', login), malformed.data, '400 on malformed JSON')
  t.equal(schemaOf('400', login), 'ValidationError')

  t.equal(schemaOf('409', find('GET /api/v1/text-stats/results/{id}/')), 'ConflictError')
  t.equal(schemaOf('500', status), 'ServerError')
  check('ServerError', { detail: 'Internal server error.', request_id: 'abc' }, '500')
  t.notOk(ajv.compile(components.schemas.ServerError)({ detail: 'Internal server error.' }), 'a 500 without its request id is not a ServerError')
  t.notOk(ajv.compile(components.schemas.ValidationError)({ text: [12345] }), 'a field error is a list of messages')
})

t.test('two routes whose operationIds would clash make the document fail, naming them', async (t) => {
  const clashing = await build(t, {
    // /text_stats/create/ reads as the same words as /text-stats/create/.
    routes: (app) => app.post('/api/v1/text_stats/create/', { schema: { summary: 'clash', tags: ['x'] } }, async () => ({})),
  })
  const res = await api(clashing.app, { method: 'GET', url: '/api/schema/' })
  t.equal(res.statusCode, 500)
  t.throws(() => clashing.app.swagger(), /operationId textStatsCreate of POST \/api\/v1\/text[-_]stats\/create\/ is also that of POST \/api\/v1\/text[-_]stats\/create\//)
})

t.test('GET /api/docs/ serves Swagger UI for the document', async (t) => {
  const page = await app.inject({ method: 'GET', url: '/api/docs/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /swagger-ui/)
  const init = await app.inject({ method: 'GET', url: '/api/docs/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200)
  const json = await app.inject({ method: 'GET', url: '/api/docs/json' })
  t.equal(json.statusCode, 200)
  t.equal(json.json().openapi, doc.openapi, 'Swagger UI reads the same document')
})
