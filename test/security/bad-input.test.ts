// The inputs the fuzzer found answered with a 500, each pinned as a regression: every one is now a
// 4xx that says what is wrong.
import { existsSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { inputProblems, MAX_DEPTH } from '../../server/http/input-safety.ts'
import { api, userWithToken } from '../helper.ts'
import { buildWithRoutes, completedRequest, OUTPUT_FILE } from './support.ts'

const deep = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n))

t.test('NUL characters are refused with DRF\'s message, in bodies, queries and form fields', async (t) => {
  const built = await buildWithRoutes(t)
  const { headers } = await userWithToken(built)
  const staff = await userWithToken(built, { isStaff: true })
  const patch = await api(built.app, { method: 'PATCH', url: '/api/v1/auth/user/', headers, payload: { name: 'Ann\u0000' } })
  t.equal(patch.statusCode, 400, 'a name with NUL (PostgreSQL text refuses it: it was a 500)')
  t.same(patch.data, { name: ['Null characters are not allowed.'] })
  const search = await api(built.app, { method: 'GET', url: '/api/v1/admin/schedules/?search=%00', headers: staff.headers })
  t.equal(search.statusCode, 400, 'a search with NUL (was a 500)')
  t.same(search.data, { search: ['Null characters are not allowed.'] })
  const create = await api(built.app, { method: 'POST', url: '/api/v1/text-stats/create/', headers, payload: { text: 'a\u0000b' } })
  t.same(create.data, { text: ['Null characters are not allowed.'] }, 'in a job input (jsonb refuses it)')
  const boundary = 'B'
  const form = `--${boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\nx\u0000y\r\n--${boundary}--\r\n`
  const multipart = await api(built.app, { method: 'POST', url: '/api/v1/text-stats/create/', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: form })
  t.same(multipart.data, { text: ['Null characters are not allowed.'] }, 'in a form field')
})

t.test('lone surrogates are refused with DRF\'s message; paired ones are text', async (t) => {
  const built = await buildWithRoutes(t)
  const { headers } = await userWithToken(built)
  const bad = await api(built.app, { method: 'POST', url: '/api/v1/text-stats/create/', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"text": "a\\ud800b"}' })
  t.equal(bad.statusCode, 400)
  t.same(bad.data, { text: ['Surrogate characters are not allowed: U+D800.'] })
  const name = await api(built.app, { method: 'PATCH', url: '/api/v1/auth/user/', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"name": "\\udc00"}' })
  t.same(name.data, { name: ['Surrogate characters are not allowed: U+DC00.'] }, 'not silently stored as U+FFFD')
  const fine = await api(built.app, { method: 'PATCH', url: '/api/v1/auth/user/', headers, payload: { name: 'Émile 🙂 \u202eRTL' } })
  t.equal(fine.data.name, 'Émile 🙂 \u202eRTL', 'astral characters and RTL marks are ordinary text')
})

t.test(`values nested deeper than ${MAX_DEPTH} levels are a 400, wherever they are`, async (t) => {
  const built = await buildWithRoutes(t)
  const { headers } = await userWithToken(built)
  for (const depth of [MAX_DEPTH + 1, 20_000]) {
    const payload = `{"text": "ok", "extra": ${'['.repeat(depth)}${']'.repeat(depth)}}`
    const res = await api(built.app, { method: 'POST', url: '/api/v1/text-stats/create/', headers: { ...headers, 'content-type': 'application/json' }, payload })
    t.equal(res.statusCode, 400, `depth ${depth} in an unknown field (structuredClone overflowed: a 500)`)
    t.same(res.data, { extra: [`Nested too deeply: at most ${MAX_DEPTH} levels.`] })
  }
  t.equal(inputProblems({ a: deep(MAX_DEPTH - 1) }), null, 'as deep as the limit is fine')
})

t.test('a request id in capitals names the same request, its folder and its files', async (t) => {
  const built = await buildWithRoutes(t)
  const { user, headers } = await userWithToken(built)
  const id = await completedRequest(built, user.id, 'text-stats')
  const file = await api(built.app, { method: 'GET', url: `/api/v1/text-stats/download-file/${id.toUpperCase()}/${OUTPUT_FILE}/`, headers })
  t.equal(file.statusCode, 200, 'download (was a 500: the folder check wanted lower case)')
  t.equal(file.body, 'ok')
  const removed = await api(built.app, { method: 'DELETE', url: `/api/v1/text-stats/delete/${id.toUpperCase()}/`, headers })
  t.equal(removed.statusCode, 204, 'delete (was a 500 after the row was gone, leaving the files)')
  t.notOk(existsSync(path.join(built.config.mediaRoot, id)), 'and its files are gone')
})

t.test('malformed multipart is a 400 that says so', async (t) => {
  const built = await buildWithRoutes(t)
  const { headers } = await userWithToken(built)
  const cases: Array<[string, string, string]> = [
    ['no boundary', 'multipart/form-data', '--x\r\n'],
    ['a boundary past busboy\'s length', `multipart/form-data; boundary=${'a'.repeat(300)}`, `--${'a'.repeat(300)}\r\n`],
    ['a part cut short', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nabc'],
    ['garbage', 'multipart/form-data; boundary=x', '--x\r\n&*W!,8 '],
  ]
  for (const [what, type, payload] of cases) {
    const res = await api(built.app, { method: 'POST', url: '/api/v1/text-stats/create/', headers: { ...headers, 'content-type': type }, payload })
    t.equal(res.statusCode, 400, what)
    t.match(res.data, { detail: /^Multipart form parse error - / }, what)
  }
})
