// Providers that cannot be used (unreachable, or answering for another issuer) never stop the app:
// each is one clear log line, the providers list still answers, and signing in with one ends at
// /sign-in?error=provider_unavailable. A configuration missing a provider's settings names them.
import { createServer } from 'node:net'
import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { buildApp } from '../../server/app.ts'
import { ConfigError } from '../../server/config.ts'
import { openServices } from '../../server/services.ts'
import { api, testConfig, testDatabase } from '../helper.ts'
import { AUTH, CLIENT, startProvider } from './support.ts'

/** A loopback port nobody listens on (taken from the system, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

t.test('bad or unreachable issuers', async (t) => {
  const idp = await startProvider(t)
  const port = await closedPort()
  const env = {
    OIDC_PROVIDERS: 'down,wrong',
    OIDC_DOWN_ISSUER: `http://127.0.0.1:${port}`,
    OIDC_DOWN_CLIENT_ID: CLIENT.id,
    OIDC_DOWN_CLIENT_SECRET: CLIENT.secret,
    // The provider's discovery document names http://127.0.0.1:<port>, not this alias: refused.
    OIDC_WRONG_ISSUER: idp.issuer.replace('127.0.0.1', 'localhost'),
    OIDC_WRONG_CLIENT_ID: CLIENT.id,
    OIDC_WRONG_CLIENT_SECRET: CLIENT.secret,
  }
  const { url } = await testDatabase(t)
  const config = testConfig(url, env)
  // The app's real logger, writing to lines this test reads.
  const lines: Array<{ level: number; msg: string }> = []
  const logged = new EventEmitter()
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line))
        logged.emit('line')
      }
      done()
    },
  })
  const log = pino({ level: 'info' }, sink)
  const services = await openServices(config, log, url)
  const app = await buildApp(services)
  t.teardown(async () => {
    await app.close()
    await services.close()
  })
  await app.ready()
  t.pass('the app starts')

  const waitFor = (match: RegExp) => new Promise<string>((resolve) => {
    const check = () => {
      const found = lines.find((l) => match.test(l.msg))
      if (!found) return
      logged.off('line', check)
      resolve(found.msg)
    }
    logged.on('line', check)
    check()
  })

  await t.test('each bad provider is one clear log line at start-up', async (t) => {
    const down = await waitFor(/provider "down" is unavailable/)
    t.match(down, `http://127.0.0.1:${port}/.well-known/openid-configuration`, 'names where it looked')
    const wrong = await waitFor(/provider "wrong" is unavailable/)
    t.match(wrong, /does not match the expected issuer/, 'says what was wrong')
  })

  await t.test('the providers list still answers', async (t) => {
    const res = await api(app, { method: 'GET', url: `${AUTH}/providers/` })
    t.equal(res.statusCode, 200)
    t.same(res.data.map((p: { id: string }) => p.id), ['down', 'wrong'])
  })

  await t.test('signing in with one ends at sign-in with provider_unavailable', async (t) => {
    for (const id of ['down', 'wrong']) {
      const res = await api(app, { method: 'GET', url: `${AUTH}/oidc/${id}/login/` })
      t.equal(res.statusCode, 302, id)
      t.equal(res.headers.location, '/sign-in?error=provider_unavailable', id)
      t.notOk(res.cookies.find((c) => c.name === 'conveyor_oidc'), 'no flow started')
    }
    t.ok((await api(app, { method: 'GET', url: '/readyz' })).statusCode < 500, 'the app still serves')
  })
})

t.test('a listed provider without its settings is a configuration error naming each variable', async (t) => {
  const err = t.throws(() => testConfig('postgres://x@127.0.0.1/x', {
    OIDC_PROVIDERS: 'google,corp-sso,Bad!',
    OIDC_GOOGLE_ISSUER: 'https://accounts.google.com',
    OIDC_GOOGLE_CLIENT_ID: 'id',
    OIDC_CORP_SSO_ISSUER: 'ftp://corp.example',
  })) as ConfigError
  t.ok(err instanceof ConfigError)
  for (const name of ['OIDC_PROVIDERS', 'OIDC_GOOGLE_CLIENT_SECRET', 'OIDC_CORP_SSO_ISSUER', 'OIDC_CORP_SSO_CLIENT_ID', 'OIDC_CORP_SSO_CLIENT_SECRET']) {
    t.ok(err.problems.some((p) => p.startsWith(`${name}:`)), `names ${name}`)
  }
  t.notOk(err.problems.some((p) => p.startsWith('OIDC_GOOGLE_ISSUER') || p.startsWith('OIDC_GOOGLE_CLIENT_ID')), 'only the bad ones')
})

t.test('production refuses a plain-http issuer and social login without FRONTEND_URL', async (t) => {
  const err = t.throws(() => testConfig('postgres://x@127.0.0.1/x', {
    NODE_ENV: 'production', SECRET_KEY: 'x'.repeat(40), ALLOWED_HOSTS: 'conveyor.example',
    OIDC_PROVIDERS: 'corp', OIDC_CORP_ISSUER: 'http://sso.corp.example', OIDC_CORP_CLIENT_ID: 'id', OIDC_CORP_CLIENT_SECRET: 's',
  })) as ConfigError
  t.ok(err.problems.some((p) => p.startsWith('OIDC_CORP_ISSUER: must be https in production')))
  t.ok(err.problems.some((p) => p.startsWith('FRONTEND_URL: required in production')))
})

t.test('the provider settings are read into the configuration', async (t) => {
  const config = testConfig('postgres://x@127.0.0.1/x', {
    OIDC_PROVIDERS: 'google, corp-sso',
    OIDC_GOOGLE_ISSUER: 'https://accounts.google.com', OIDC_GOOGLE_CLIENT_ID: 'g-id', OIDC_GOOGLE_CLIENT_SECRET: 'g-secret',
    OIDC_CORP_SSO_ISSUER: 'https://sso.corp.example/realms/main', OIDC_CORP_SSO_CLIENT_ID: 'c-id', OIDC_CORP_SSO_CLIENT_SECRET: 'c-secret', OIDC_CORP_SSO_NAME: 'Corp SSO',
  })
  t.same(config.oidcProviders, [
    { id: 'google', name: 'Google', issuer: 'https://accounts.google.com', clientId: 'g-id', clientSecret: 'g-secret' },
    { id: 'corp-sso', name: 'Corp SSO', issuer: 'https://sso.corp.example/realms/main', clientId: 'c-id', clientSecret: 'c-secret' },
  ])
  t.same(testConfig('postgres://x@127.0.0.1/x').oidcProviders, [], 'none by default')
})
