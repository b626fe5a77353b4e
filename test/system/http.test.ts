// HTTP conventions from API.md: trailing slashes, error shapes, request ids, system endpoints.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { api, build, userWithToken } from '../helper.ts'

t.test('version-info answers with version, environment and commit, with or without the slash', async (t) => {
  const { app } = await build(t)
  for (const url of ['/api/v1/version-info/', '/api/v1/version-info']) {
    const res = await api(app, { method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    t.same(Object.keys(res.data).sort(), ['commit', 'environment', 'version'])
    t.equal(res.data.environment, 'test')
  }
})

t.test('unknown /api paths are a JSON 404', async (t) => {
  const { app } = await build(t)
  const res = await api(app, { method: 'GET', url: '/api/v1/does-not-exist/' })
  t.equal(res.statusCode, 404)
  t.same(res.data, { detail: 'Not found.' })
  t.match(res.headers['content-type'], /application\/json/)
})

t.test('a known path with the wrong method is 405 with Allow', async (t) => {
  const { app } = await build(t)
  const res = await api(app, { method: 'DELETE', url: '/api/v1/version-info' })
  t.equal(res.statusCode, 405)
  t.same(res.data, { detail: 'Method "DELETE" not allowed.' })
  t.match(res.headers.allow, /GET/)
})

t.test('every response carries X-Request-Id, and a client-sent one is honoured', async (t) => {
  const { app } = await build(t)
  const generated = await app.inject({ method: 'GET', url: '/healthz' })
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const given = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'client-abc.123' } })
  t.equal(given.headers['x-request-id'], 'client-abc.123')
  const hostile = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\twith spaces' } })
  t.not(hostile.headers['x-request-id'], 'bad id\twith spaces', 'an unsafe id is replaced')
})

t.test('unauthenticated requests get 401 with WWW-Authenticate; a garbage key is "Invalid token."', async (t) => {
  const built = await build(t, {
    routes: (app) => app.get('/api/v1/test-protected/', { onRequest: app.authenticate }, async (req) => ({ id: req.user!.id })),
  })
  const none = await api(built.app, { method: 'GET', url: '/api/v1/test-protected' })
  t.equal(none.statusCode, 401)
  t.same(none.data, { detail: 'Authentication credentials were not provided.' })
  t.equal(none.headers['www-authenticate'], 'Bearer')
  const bad = await api(built.app, { method: 'GET', url: '/api/v1/test-protected', headers: { authorization: 'Bearer not-a-jwt' } })
  t.equal(bad.statusCode, 401)
  t.same(bad.data, { detail: 'Invalid token.' })
  const { token } = await userWithToken(built)
  for (const scheme of ['Bearer', 'Token', 'bearer']) {
    const ok = await api(built.app, { method: 'GET', url: '/api/v1/test-protected/', headers: { authorization: `${scheme} ${token}` } })
    t.equal(ok.statusCode, 200, `${scheme} scheme accepted`)
  }
})

t.test('malformed JSON is a 400 "JSON parse error"', async (t) => {
  const built = await build(t, { routes: (app) => app.post('/api/v1/test-echo/', async (req) => req.body) })
  const res = await api(built.app, { method: 'POST', url: '/api/v1/test-echo/', headers: { 'content-type': 'application/json' }, payload: '{"a": ' })
  t.equal(res.statusCode, 400)
  t.match(res.data.detail, /^JSON parse error - /)
})

t.test('a JSON body with a __proto__ or constructor.prototype key is refused (prototype poisoning)', async (t) => {
  const built = await build(t, { routes: (app) => app.post('/api/v1/test-echo/', async (req) => ({ body: req.body, polluted: ({} as any).polluted ?? null })) })
  const post = (payload: string) => api(built.app, { method: 'POST', url: '/api/v1/test-echo/', headers: { 'content-type': 'application/json' }, payload })
  const poisoned = [
    '{"__proto__": {"polluted": "yes"}}',
    '{"a": 1, "nested": [{"__proto__": {"is_staff": true}}]}',
    '{"\\u005f_proto__": {"polluted": "yes"}}',
    '{"constructor": {"prototype": {"polluted": "yes"}}}',
    '{"deep": {"constructor": {"prototype": {"polluted": "yes"}}}}',
  ]
  for (const payload of poisoned) {
    const res = await post(payload)
    t.equal(res.statusCode, 400, payload)
    t.same(res.data, { detail: 'JSON parse error - Object contains forbidden prototype property' }, payload)
  }
  t.equal(({} as any).polluted, undefined, 'no prototype was touched')
  const fine = await post('{"constructor": "a string is fine", "proto": 1}')
  t.equal(fine.statusCode, 200)
  t.same(fine.data, { body: { constructor: 'a string is fine', proto: 1 }, polluted: null })
  t.same((await post('  ')).data, { body: {}, polluted: null }, 'an empty body is still {}')
  t.match((await post('{"a": ')).data, { detail: /^JSON parse error - / }, 'bad JSON keeps its message')
})

t.test('unsupported media type is 415; too large a body is 413', async (t) => {
  const built = await build(t, { env: { BODY_LIMIT_MB: '0.001' }, routes: (app) => app.post('/api/v1/test-echo/', async (req) => req.body) })
  const res = await api(built.app, { method: 'POST', url: '/api/v1/test-echo/', headers: { 'content-type': 'text/csv' }, payload: 'a,b' })
  t.equal(res.statusCode, 415)
  t.same(res.data, { detail: 'Unsupported media type "text/csv" in request.' })
  const big = await api(built.app, { method: 'POST', url: '/api/v1/test-echo/', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(5000) }) })
  t.equal(big.statusCode, 413)
  t.same(big.data, { detail: 'Request body is too large.' })
})

t.test('validation errors are DRF field errors, every problem at once, types strict', async (t) => {
  const built = await build(t, {
    routes: (app) => app.post('/api/v1/test-validate/', {
      schema: { body: Type.Object({ text: Type.String({ minLength: 1 }), count: Type.Integer({ minimum: 1 }), email: Type.String({ format: 'email' }) }) },
    }, async () => ({ ok: true })),
  })
  const res = await api(built.app, { method: 'POST', url: '/api/v1/test-validate', payload: { text: 12345, email: 'nope' } })
  t.equal(res.statusCode, 400)
  t.same(res.data, { text: ['Not a valid string.'], count: ['This field is required.'], email: ['Enter a valid email address.'] })
  const blank = await api(built.app, { method: 'POST', url: '/api/v1/test-validate', payload: { text: '', count: 0, email: 'a@b.co' } })
  t.same(blank.data, { text: ['This field may not be blank.'], count: ['Ensure this value is greater than or equal to 1.'] })
  const list = await api(built.app, { method: 'POST', url: '/api/v1/test-validate', payload: [1, 2] })
  t.same(list.data, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] })
  const empty = await api(built.app, { method: 'POST', url: '/api/v1/test-validate' })
  t.equal(empty.statusCode, 400, 'a POST without a body names every missing field')
  t.same(Object.keys(empty.data).sort(), ['count', 'email', 'text'])
  const extra = await api(built.app, { method: 'POST', url: '/api/v1/test-validate', payload: { text: 'x', count: 1, email: 'a@b.co', unknown: 1 } })
  t.equal(extra.statusCode, 200, 'unknown fields are ignored')
})

t.test('a crash is a 500 with a request id and no stack trace', async (t) => {
  const built = await build(t, { routes: (app) => app.get('/api/v1/test-crash/', async () => { throw new Error('secret internals') }) })
  const res = await api(built.app, { method: 'GET', url: '/api/v1/test-crash/', headers: { 'x-request-id': 'crash-1' } })
  t.equal(res.statusCode, 500)
  t.same(res.data, { detail: 'Internal server error.', request_id: 'crash-1' })
  t.notMatch(res.body, /secret internals/)
})

t.test('OpenAPI document and Swagger UI are served', async (t) => {
  const { app } = await build(t)
  const schema = await api(app, { method: 'GET', url: '/api/schema/' })
  t.equal(schema.statusCode, 200)
  t.match(schema.data.openapi, /^3\./)
  t.ok(schema.data.paths['/api/v1/version-info/'], 'routes are documented')
  const docs = await app.inject({ method: 'GET', url: '/api/docs/' })
  t.ok(docs.statusCode === 200 || docs.statusCode === 302, 'Swagger UI answers')
})

t.test('non-API GETs get the SPA page; non-GET outside /api is a JSON 404', async (t) => {
  const { app } = await build(t)
  const page = await app.inject({ method: 'GET', url: '/some/client/route' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.equal(page.headers['cache-control'], 'no-store')
  const post = await api(app, { method: 'POST', url: '/some/client/route' })
  t.equal(post.statusCode, 404)
})

t.test('ALLOWED_HOSTS rejects other Host headers', async (t) => {
  const { app } = await build(t, { env: { ALLOWED_HOSTS: 'example.org,.example.net' } })
  const url = '/api/v1/version-info/'
  t.equal((await app.inject({ method: 'GET', url, headers: { host: 'example.org' } })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url, headers: { host: 'api.example.net' } })).statusCode, 200)
  const bad = await api(app, { method: 'GET', url, headers: { host: 'evil.com' } })
  t.equal(bad.statusCode, 400)
  t.same(bad.data, { detail: 'Invalid host header.' })
})

t.test('route schemas compile on first use, and every one of them compiles', async (t) => {
  const { app } = await build(t, {
    routes: (app) => app.get('/api/v1/test-lazy/', {
      schema: { querystring: Type.Object({ n: Type.Integer() }), response: { 200: Type.Object({ n: Type.Integer(), twice: Type.Integer() }) } },
    }, async (request) => ({ n: (request.query as { n: number }).n, twice: (request.query as { n: number }).n * 2, hidden: 'not in the schema' })),
  })
  const before = app.schemaCompilation.pending()
  t.ok(before > 50, `nothing compiled at start (${before} pending)`)
  const ok = await api(app, { method: 'GET', url: '/api/v1/test-lazy/?n=21' })
  t.same(ok.data, { n: 21, twice: 42 }, 'the query coerced from text, the response serialized by its schema')
  t.equal(app.schemaCompilation.pending(), before - 2, 'that route\'s validator and serializer compiled, nothing else')
  const bad = await api(app, { method: 'GET', url: '/api/v1/test-lazy/?n=x' })
  t.equal(bad.statusCode, 400)
  t.same(bad.data, { n: ['A valid integer is required.'] }, 'errors read from the compiled validator')
  app.schemaCompilation.compileAll()
  t.equal(app.schemaCompilation.pending(), 0, 'every route schema of the app compiles')
})
