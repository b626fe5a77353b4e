// Production hardening over HTTP: helmet's headers on the SPA and the API, a CSP that allows the
// SPA's one inline script by its hash, Swagger UI's own scoped CSP, the host allow-list with
// health probes exempt, CORS for configured origins on /api only, and missing files as 404.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { api, build } from '../helper.ts'
import { ensureClientBuilt } from '../ui/support.ts'
import { productionEnv, root } from './support.ts'

const HOST = { host: 'conveyor.example.org' }

/** The CSP's directives as a map: `script-src` → ["'self'", "'sha256-…'"]. */
function directives(csp: string | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (const part of (csp ?? '').split(';').map((p) => p.trim()).filter(Boolean)) {
    const [name, ...values] = part.split(/\s+/)
    map.set(name!, values)
  }
  return map
}

t.before(ensureClientBuilt)

t.test('the SPA and the API carry the security headers in production', async (t) => {
  const { app } = await build(t, { env: productionEnv() })
  for (const url of ['/', '/jobs/new', '/api/v1/version-info/', '/api/schema/']) {
    const res = await app.inject({ method: 'GET', url, headers: HOST })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['strict-transport-security'], /^max-age=31536000; includeSubDomains/, `${url}: HSTS`)
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: frame denial`)
    t.equal(res.headers['referrer-policy'], 'same-origin', `${url}: referrer policy`)
    const csp = directives(res.headers['content-security-policy'] as string)
    t.same(csp.get('default-src'), ["'self'"], `${url}: CSP default-src`)
    t.same(csp.get('frame-ancestors'), ["'none'"], `${url}: CSP frame-ancestors`)
    t.same(csp.get('object-src'), ["'none'"], `${url}: CSP object-src`)
  }
  // Errors too: refused before any handler (401), and a route that does not exist (404).
  for (const url of ['/api/v1/jobs/list/', '/api/v1/no-such-route/']) {
    const res = await app.inject({ method: 'GET', url, headers: HOST })
    t.ok([401, 404].includes(res.statusCode), `${url}: ${res.statusCode}`)
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: frame denial`)
    t.same(directives(res.headers['content-security-policy'] as string).get('default-src'), ["'self'"], `${url}: CSP`)
  }
})

t.test('development sends no HSTS (it would pin plain-HTTP localhost to HTTPS)', async (t) => {
  const { app } = await build(t, { env: { NODE_ENV: 'development' } })
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.headers['strict-transport-security'], undefined)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.ok(res.headers['content-security-policy'])
})

t.test('the CSP allows exactly the inline runtime-settings script, by its hash, and no other inline script', async (t) => {
  const { app } = await build(t, { env: productionEnv() })
  const res = await app.inject({ method: 'GET', url: '/', headers: HOST })
  const inline = [...res.body.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!)
  t.equal(inline.length, 1, 'one inline script: the runtime settings')
  t.match(inline[0], /^window\.__CONVEYOR__=\{"apiRoot":"\/api\/v1\/"/)
  t.match(inline[0], /"environment":"production"/)
  const hash = `'sha256-${createHash('sha256').update(inline[0]!).digest('base64')}'`
  const scriptSrc = directives(res.headers['content-security-policy'] as string).get('script-src') ?? []
  t.same(scriptSrc, ["'self'", hash])
  t.notOk(scriptSrc.some((s) => s === "'unsafe-inline'" || s === "'unsafe-eval'"))
})

t.test('Swagger UI at /api/docs/ keeps working under its own CSP, scoped to it', async (t) => {
  const { app } = await build(t, { env: productionEnv() })
  const page = await app.inject({ method: 'GET', url: '/api/docs/', headers: HOST })
  t.equal(page.statusCode, 200)
  t.match(page.body, /swagger-ui/)
  const docs = directives(page.headers['content-security-policy'] as string)
  t.notOk(docs.get('script-src')?.includes("'unsafe-inline'"), 'no inline scripts allowed (the UI loads swagger-initializer.js)')
  t.same(docs.get('frame-ancestors'), ["'none'"])
  t.notOk(docs.has('upgrade-insecure-requests'), 'no HTTPS upgrade: it must work on plain-HTTP development servers too')
  t.equal(page.headers['x-frame-options'], 'DENY')
  const spa = directives((await app.inject({ method: 'GET', url: '/', headers: HOST })).headers['content-security-policy'] as string)
  t.notSame(spa.get('style-src'), docs.get('style-src'), "the docs' looser style rules do not reach the SPA")
  t.same(spa.get('style-src'), ["'self'"])
})

t.test('an unknown Host is rejected in production', async (t) => {
  const { app } = await build(t, { env: productionEnv() })
  const res = await api(app, { method: 'GET', url: '/api/v1/version-info/', headers: { host: 'evil.example' } })
  t.equal(res.statusCode, 400)
  t.same(res.data, { detail: 'Invalid host header.' })
  t.equal((await app.inject({ method: 'GET', url: '/', headers: { host: 'evil.example' } })).statusCode, 400)
})

t.test('health probes pass whatever ALLOWED_HOSTS says', async (t) => {
  const { app } = await build(t, { env: productionEnv({ ALLOWED_HOSTS: 'only.example.org' }) })
  for (const url of ['/healthz', '/readyz', '/healthz/', '/readyz?probe=1']) {
    for (const host of ['127.0.0.1:8000', '10.1.2.3', 'evil.example']) {
      const res = await api(app, { method: 'GET', url, headers: { host } })
      t.equal(res.statusCode, 200, `${url} with Host ${host}`)
      t.equal(res.data?.status, 'ok')
    }
  }
  t.equal((await app.inject({ method: 'GET', url: '/healthzz', headers: { host: 'evil.example' } })).statusCode, 400, 'only the probes themselves')
})

t.test('CORS answers only the configured origins, and only on /api', async (t) => {
  const { app } = await build(t, { env: productionEnv({ CORS_ALLOWED_ORIGINS: 'https://app.example.org, http://localhost:5173' }) })
  const allowed = await app.inject({ method: 'GET', url: '/api/v1/version-info/', headers: { ...HOST, origin: 'https://app.example.org' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.org')
  t.equal(allowed.headers['access-control-allow-credentials'], undefined, 'no cookies cross-origin: Bearer keys only')

  const preflight = await app.inject({
    method: 'OPTIONS', url: '/api/v1/text-stats/create/',
    headers: { ...HOST, origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:5173')
  t.match(preflight.headers['access-control-allow-methods'], /POST/)
  t.match(String(preflight.headers['access-control-allow-headers']).toLowerCase(), /authorization/)

  const other = await app.inject({ method: 'GET', url: '/api/v1/version-info/', headers: { ...HOST, origin: 'https://evil.example' } })
  t.equal(other.statusCode, 200)
  t.equal(other.headers['access-control-allow-origin'], undefined, 'an unlisted origin gets no CORS header')

  const spa = await app.inject({ method: 'GET', url: '/', headers: { ...HOST, origin: 'https://app.example.org' } })
  t.equal(spa.headers['access-control-allow-origin'], undefined, 'nothing outside /api')

  const wrong = await app.inject({ method: 'DELETE', url: '/api/v1/version-info/', headers: HOST })
  t.equal(wrong.statusCode, 405, 'method-not-allowed still works with the CORS plugin')
})

t.test('without CORS_ALLOWED_ORIGINS no CORS header is sent', async (t) => {
  const { app } = await build(t, { env: productionEnv() })
  const res = await app.inject({ method: 'GET', url: '/api/v1/version-info/', headers: { ...HOST, origin: 'https://app.example.org' } })
  t.equal(res.headers['access-control-allow-origin'], undefined)
})

t.test('CORS_ALLOWED_ORIGINS must be a list of origins', async (t) => {
  const { loadConfig } = await import('../../server/config.ts')
  t.throws(() => loadConfig({ CORS_ALLOWED_ORIGINS: 'app.example.org' }), /CORS_ALLOWED_ORIGINS: must be/)
  t.throws(() => loadConfig({ CORS_ALLOWED_ORIGINS: 'https://app.example.org/path' }), /CORS_ALLOWED_ORIGINS: must be/)
  t.same(loadConfig({ CORS_ALLOWED_ORIGINS: 'https://a.example, http://b.example:8080/' }).corsAllowedOrigins, ['https://a.example', 'http://b.example:8080'])
})

t.test('a missing built asset, or any path with a file extension that names no file, is a JSON 404', async (t) => {
  const { app } = await build(t, { env: productionEnv() })
  const index = readFileSync(path.join(root, 'client', 'dist', 'index.html'), 'utf8')
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index)![1]!
  const real = await app.inject({ method: 'GET', url: asset, headers: HOST })
  t.equal(real.statusCode, 200, 'an existing asset is served')
  t.match(real.headers['cache-control'], /immutable/)
  for (const url of [asset.replace(/-[^./]+\.js$/, '-0ld8uild.js'), '/assets/', '/assets/nested/logo.svg', '/favicon-missing.ico', '/jobs/report.csv', '/robots.txt?x=1']) {
    const res = await api(app, { method: 'GET', url, headers: HOST })
    t.equal(res.statusCode, 404, url)
    t.same(res.data, { detail: 'Not found.' }, `${url}: JSON, never index.html`)
  }
})

t.test('client routes still get the SPA, including parameters with dots', async (t) => {
  const { app } = await build(t, { env: productionEnv() })
  const key = `1.${(Date.now() / 1000 + 3600).toString(36)}.${'A'.repeat(43)}`
  for (const url of ['/jobs/new', '/sign-in', `/verify-email/${key}`, '/password-reset/1/mwx2k1-0123456789abcdef0123', '/jobs/text-stats/0b0d7a52-9d43-4c4b-8f3c-1e2d3c4b5a69']) {
    const res = await app.inject({ method: 'GET', url, headers: HOST })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-type'], /text\/html/, url)
  }
})
