// Shared by the social login tests: the fixture OpenID provider as a child process, a small cookie
// jar, and a driver for the provider's own login and consent pages over real HTTP.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { api } from '../helper.ts'

const root = path.resolve(import.meta.dirname, '..', '..')
export const AUTH = '/api/v1/auth'
export const CLIENT = { id: 'conveyor', secret: 'conveyor-test-secret' }
export const OTHER_CLIENT_ID = 'other-app'

export interface FixtureProvider {
  issuer: string
}

/** Starts test/oidc/fixtures/provider.ts (a real oidc-provider) and stops it when the test ends. */
export async function startProvider(t: Test, env: Record<string, string> = {}): Promise<FixtureProvider> {
  const child = spawn(path.join(root, 'node_modules', '.bin', 'node'), [path.join(root, 'test', 'oidc', 'fixtures', 'provider.ts')], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    child.stdin.end() // the fixture exits when its stdin closes
    await exited
  })
  const lines = createInterface({ input: child.stdout })
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`the fixture provider exited (${code}) before listening:\n${stderr}`)))
  })
  return JSON.parse(first) as FixtureProvider
}

/** Cookies by name, as a browser would send them to one site (paths and expiry are not needed here). */
export class CookieJar {
  readonly #cookies = new Map<string, string>()

  store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair] = line.split(';')
      const at = pair!.indexOf('=')
      const name = pair!.slice(0, at).trim()
      const value = pair!.slice(at + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0(;|$)/i.test(line)) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name)
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}

const decode = (s: string) => s.replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&#x3D;', '=').replaceAll('&quot;', '"')

/**
 * Signs in at the provider as `login` (its login form, then its consent form) starting from an
 * authorization URL, following its redirects, until it sends the browser back to the app. Returns
 * that callback URL. `consent: false` aborts at the consent step instead (the user said no).
 */
export async function signInAtProvider(authorizationUrl: string, login: string, options: { consent?: boolean } = {}): Promise<URL> {
  const jar = new CookieJar()
  const origin = new URL(authorizationUrl).origin
  let url = new URL(authorizationUrl)
  let init: RequestInit = { method: 'GET' }
  for (let step = 0; step < 20; step++) {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as object), cookie: jar.header() } })
    jar.store(res.headers.getSetCookie())
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, url)
      await res.body?.cancel()
      if (next.origin !== origin) return next // back to the app
      url = next
      init = { method: 'GET' }
      continue
    }
    const html = await res.text()
    if (res.status !== 200) throw new Error(`provider answered ${res.status} at ${url}:\n${html.slice(0, 2000)}`)
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1]
    if (!action || !prompt) throw new Error(`no form at ${url}:\n${html.slice(0, 2000)}`)
    const target = new URL(decode(action), url)
    if (prompt === 'consent' && options.consent === false) {
      url = new URL(`${target.pathname.replace(/\/$/, '')}/abort`, target)
      init = { method: 'GET' }
      continue
    }
    const form = new URLSearchParams({ prompt })
    if (prompt === 'login') {
      form.set('login', login)
      form.set('password', 'anything: the fixture accepts any password')
    }
    url = target
    init = { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
  }
  throw new Error('too many steps at the provider')
}

/** `GET …/oidc/<provider>/login/`: the authorization URL it redirects to, and the flow cookie it set. */
export async function startLogin(app: FastifyInstance, provider: string, query = '', headers: Record<string, string> = {}) {
  const res = await api(app, { method: 'GET', url: `${AUTH}/oidc/${provider}/login/${query}`, headers })
  const flowCookie = res.cookies.find((c) => c.name === 'conveyor_oidc')
  return { res, location: res.headers.location as string | undefined, flowCookie, cookieHeader: flowCookie ? `conveyor_oidc=${flowCookie.value}` : '' }
}

/** Sends the provider's callback URL to the app (as the browser would: path and query, with its cookies). */
export async function callback(app: FastifyInstance, callbackUrl: URL, cookieHeader: string) {
  const res = await api(app, { method: 'GET', url: `${callbackUrl.pathname}${callbackUrl.search}`, headers: cookieHeader ? { cookie: cookieHeader } : {} })
  const token = res.cookies.find((c) => c.name === 'conveyor_token' && c.value)
  return { res, location: res.headers.location as string | undefined, token: token?.value }
}

/** The whole flow for `login`: the app's login/, the provider's pages, the app's callback. */
export async function signInWith(app: FastifyInstance, provider: string, login: string, query = '') {
  const started = await startLogin(app, provider, query)
  if (!started.location) throw new Error(`login/ did not redirect: ${started.res.statusCode} ${started.res.body}`)
  const back = await signInAtProvider(started.location, login)
  return { ...(await callback(app, back, started.cookieHeader)), callbackUrl: back, cookieHeader: started.cookieHeader }
}
