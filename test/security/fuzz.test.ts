// Bad input on every route (fast-check): malformed JSON, wrong types, huge and deeply nested values,
// unicode edge cases (NUL, lone surrogates, RTL and BOM), malformed multipart, bad headers and
// encodings, SQL metacharacters in every path, search, filter and ordering parameter. Never a 5xx,
// never a hang, never a crash; afterwards the server still answers normally. Runs are bounded
// (FUZZ_RUNS per route and kind, default 8) so the whole file stays well under a minute.
import t from 'tap'
import fc from 'fast-check'
import type { InjectOptions } from 'fastify'
import { buildWithRoutes, completedRequest, roleAccounts, type RouteEntry } from './support.ts'

const RUNS = Number(process.env.FUZZ_RUNS ?? 8)
const HANG_MS = 15_000

// Strings that have broken servers before: NUL, lone surrogates, RTL override, BOM, non-characters,
// astral characters, SQL and LIKE metacharacters, path tricks, numbers past every range.
const NASTY = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '\u202eevil\u202c', '\ufeff', '\uffff', '\ufffe', '𝕏🙂',
  "' OR 1=1 --", '"; DROP TABLE users; --', "'); SELECT pg_sleep(10); --", '%', '_', '\\', '%%_\\%', '$1', '::text', 'E\'\\x00\'',
  '../../etc/passwd', '%2e%2e%2f', '..\\..\\', '<script>alert(1)</script>', '${jndi:ldap://x}', '{{7*7}}',
  '-1', '0', '1e309', '99999999999999999999999', 'NaN', 'Infinity', 'true', 'null', '[]', '{}', '-created_at', 'created_at;',
  '2026-13-45T99:99:99Z', 'a'.repeat(10_000),
]
const nasty = fc.constantFrom(...NASTY)
const text = fc.oneof(nasty, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.tuple(nasty, fc.string(), nasty).map((p) => p.join('')))
/** Any JSON-able value, with nasty strings among the leaves. */
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
})).v

/** Percent-encodes the UTF-8 bytes of any string (a lone surrogate included, which encodeURIComponent refuses). */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('')
/** A header value as a client can send it: the UTF-8 bytes read as Latin-1, without CR, LF or NUL. */
const headerSafe = (s: string) => Buffer.from(s, 'utf8').toString('latin1').replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '')

function deep(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

/** Bodies: malformed JSON text, wrong types for the route's own fields, huge and deeply nested values. */
function bodies(route: RouteEntry): fc.Arbitrary<{ payload: string | Buffer; contentType: string }> {
  const fields = route.bodyFields.length > 0 ? route.bodyFields : ['text', 'email', 'name', 'input']
  const json = (v: unknown) => ({ payload: JSON.stringify(v) ?? 'null', contentType: 'application/json' })
  const field = fc.constantFrom(...fields)
  return fc.oneof(
    fc.json().chain((j) => fc.nat(j.length).map((cut) => ({ payload: j.slice(0, cut) + (cut % 3 === 0 ? '}' : ''), contentType: 'application/json' }))),
    fc.string().map((s) => ({ payload: s, contentType: 'application/json' })),
    fc.dictionary(field, value, { maxKeys: fields.length }).map(json),
    fc.dictionary(fc.oneof(field, text), value, { maxKeys: 6 }).map(json),
    value.map(json),
    fc.record({ f: field, v: nasty }).map(({ f, v }) => json({ [f]: v })),
    fc.record({ f: field, depth: fc.constantFrom(64, 1_000, 20_000), kind: fc.constantFrom('array' as const, 'object' as const) })
      .map(({ f, depth, kind }) => ({ payload: `{"${f}": ${deep(depth, kind)}}`, contentType: 'application/json' })),
    fc.record({ f: field, size: fc.constantFrom(100_000, 2_000_000) }).map(({ f, size }) => json({ [f]: 'x'.repeat(size) })),
    fc.record({ f: field, n: fc.constantFrom(10_000, 100_000) }).map(({ f, n }) => json({ [f]: Array.from({ length: n }, (_, i) => i) })),
    fc.uint8Array({ maxLength: 64 }).map((b) => ({ payload: Buffer.from(b), contentType: 'application/json' })), // not UTF-8 at all
    fc.constantFrom('{"email": "\\u0000@x.org"}', '{"text": "\\ud800"}', '{"name": "\\udc00\\ud800"}', '{"a": 1, "a": 2}', '\ufeff{}', '{"x": 1e999}')
      .map((payload) => ({ payload, contentType: 'application/json' })),
  )
}

/** Multipart bodies that lie: bad boundaries, truncated parts, odd names and headers. */
const badMultipart = fc.oneof(
  fc.string().map((s) => ({ payload: s, contentType: 'multipart/form-data' })),
  fc.record({ b: fc.constantFrom('x', '', '"', 'a'.repeat(200)), body: fc.string() })
    .map(({ b, body }) => ({ payload: `--${b}\r\n${body}`, contentType: `multipart/form-data; boundary=${b}` })),
  fc.record({ name: text, filename: text, type: text, content: fc.string(), cut: fc.nat(200) }).map(({ name, filename, type, content, cut }) => {
    const full = `--B\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n${content}\r\n--B--\r\n`
    return { payload: full.slice(0, Math.max(4, full.length - cut)), contentType: 'multipart/form-data; boundary=B' }
  }),
  fc.record({ name: fc.constantFrom('__proto__', 'constructor', 'text', 'file', 'top_n'), v: text }).map(({ name, v }) => ({
    payload: `--B\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: application/json\r\n\r\n${v}\r\n--B--\r\n`,
    contentType: 'multipart/form-data; boundary=B',
  })),
)

/** Headers that lie or surprise: content types, encodings, keys, request ids, hosts. */
const badHeaders = fc.record({
  'content-type': fc.constantFrom('application/json; charset=utf-16', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'application/json;;;', '*/*', 'multipart/form-data; boundary='),
  'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x'),
  authorization: fc.oneof(text, text.map((s) => `Bearer ${s}`), text.map((s) => `Token ${s}`), fc.constant('Bearer a.b.c'), fc.constant('Bearer ' + 'x'.repeat(8000))),
  'x-request-id': text,
  'idempotency-key': text,
  'x-requested-with': text,
  cookie: text.map((s) => `conveyor_token=${pct(s)}`),
}, { requiredKeys: [] }).map((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, headerSafe(v)])))

/** Query strings with nasty values for the route's own parameters and the usual list ones. */
function queries(route: RouteEntry): fc.Arbitrary<string> {
  const names = [...new Set([...route.queryFields, 'page', 'page_size', 'ordering', 'status', 'search', 'feature', 'user', 'format'])]
  return fc.array(fc.tuple(fc.constantFrom(...names), text), { minLength: 1, maxLength: 4 })
    .map((pairs) => '?' + pairs.map(([k, v]) => `${k}=${pct(v)}`).join('&'))
}

/** A path segment: a real id, a near miss, or something nasty (percent-encoded, so it reaches the router). */
const segment = (realId: string) => fc.oneof(fc.constant(realId), fc.constant(realId.toUpperCase()), text.map((s) => pct(s)), fc.constant('%00'), fc.constant('%ZZ'))

t.test('bad input on every route: never a 5xx, never a hang, never a crash', async (t) => {
  const built = await buildWithRoutes(t, { env: { BODY_LIMIT_MB: '4', UPLOAD_LIMIT_MB: '1' } })
  const accounts = await roleAccounts(built)
  const staffId = accounts.users.staff.id
  const routes = built.routes.filter((r) => r.method !== 'HEAD' && !r.url.includes('*'))
  const findings: string[] = []
  let tried = 0
  const kinds: Record<string, number> = {}

  async function call(route: RouteEntry, kind: string, options: InjectOptions): Promise<boolean> {
    tried++
    kinds[kind] = (kinds[kind] ?? 0) + 1
    let timer: NodeJS.Timeout | undefined
    const hang = new Promise<'hang'>((resolve) => { timer = setTimeout(() => resolve('hang'), HANG_MS) })
    const res = await Promise.race([built.app.inject(options), hang]).finally(() => clearTimeout(timer))
    const shown = `${route.method} ${String(options.url).slice(0, 160)} ${kind} ${JSON.stringify(String(options.payload ?? '').slice(0, 160))}`
    if (res === 'hang') {
      findings.push(`hang: ${shown}`)
      return false
    }
    if (res.statusCode >= 500) {
      findings.push(`${res.statusCode}: ${shown} → ${res.body.slice(0, 200)}`)
      return false
    }
    return true
  }

  for (const route of routes) {
    const realId = await completedRequest(built, staffId, /^\/api\/v1\/([^/]+)\//.exec(route.url)?.[1] ?? 'text-stats')
    const url = (id: string, name: string) => route.url.replace(':id', id).replace(':name', name)
    const key = async () => `Bearer ${await accounts.key('staff')}`
    const props: Array<[string, fc.IAsyncProperty<any>]> = [
      ['path', fc.asyncProperty(segment(realId), segment('report.txt'), async (id, name) =>
        call(route, 'path', { method: route.method as any, url: url(id, name), headers: { authorization: await key() } }))],
      ['query', fc.asyncProperty(queries(route), async (q) =>
        call(route, 'query', { method: route.method as any, url: url(realId, 'report.txt') + q, headers: { authorization: await key() } }))],
      ['headers', fc.asyncProperty(badHeaders, fc.string({ maxLength: 30 }), async (headers, payload) =>
        call(route, 'headers', { method: route.method as any, url: url(realId, 'report.txt'), headers: headers as Record<string, string>, payload }))],
    ]
    if (!['GET', 'DELETE'].includes(route.method)) {
      props.push(['body', fc.asyncProperty(bodies(route), async ({ payload, contentType }) =>
        call(route, 'body', { method: route.method as any, url: url(realId, 'report.txt'), headers: { authorization: await key(), 'content-type': contentType }, payload }))])
      props.push(['multipart', fc.asyncProperty(badMultipart, async ({ payload, contentType }) =>
        call(route, 'multipart', { method: route.method as any, url: url(realId, 'report.txt'), headers: { authorization: await key(), 'content-type': contentType }, payload }))])
    }
    for (const [kind, prop] of props) {
      const runs = route.url.includes('/auth/') && kind === 'body' ? RUNS * 2 : RUNS
      try {
        await fc.assert(prop, { numRuns: runs, endOnFailure: true })
      } catch (err) {
        findings.push(`${route.method} ${route.url} [${kind}]: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`)
      }
    }
    await accounts.restore()
  }

  t.comment(`fuzzing: ${tried} inputs tried on ${routes.length} routes (${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')})`)
  t.same(findings, [], 'no 5xx and no hang')
  // Still answering, and still right, afterwards.
  t.equal((await built.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  t.equal((await built.app.inject({ method: 'GET', url: '/api/v1/auth/user/', headers: { authorization: await keyOf(accounts) } })).statusCode, 200)
  const created = await built.app.inject({ method: 'POST', url: '/api/v1/text-stats/create/', headers: { authorization: await keyOf(accounts) }, payload: { text: 'still fine' } })
  t.equal(created.statusCode, 202)
})

const keyOf = async (accounts: Awaited<ReturnType<typeof roleAccounts>>) => `Bearer ${await accounts.key('user')}`
