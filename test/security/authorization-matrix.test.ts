// The authorisation matrix, generated from the app's real route table: every route × every role
// (anonymous, user = the object's owner, another user, staff, superuser) is called and its status
// compared with the table below. A route missing from the table fails the test, so no route ships
// unclassified; a table line without a route fails too. Another user's object is 404, never 403.
//
// To classify a new route, add one line: 'METHOD /path/with/:params/': rule(...). Per-feature routes
// are written once with :feature (ordinary features) or :system (staff-only maintenance features).
import { readdirSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../server/config.ts'
import { ASSETS_PREFIX, clientDist } from '../../server/spa.ts'
import { createUser } from '../../server/accounts/users.ts'
import type { InjectOptions } from 'fastify'
import { multipart } from '../jobs/support.ts'
import { ROLES, PASSWORD, OUTPUT_FILE, buildWithRoutes, completedRequest, roleAccounts, type Built, type Role } from './support.ts'

type Expect = Record<Role, number>
/** What a cell sends besides method and URL, and who owns the object its :id names. */
interface Rule {
  expect: Expect
  /** Whose object `:id` is: `user` for ordinary requests, `staff` for maintenance runs, a schedule, none. */
  object?: 'request-of-user' | 'request-of-staff' | 'schedule' | 'account'
  body?: (ctx: CellContext) => InjectOptions['payload'] | Promise<InjectOptions['payload']>
  multipart?: (ctx: CellContext) => ReturnType<typeof multipart>
}
interface CellContext { role: Role; feature: string; n: number; email: string }

const same = (status: number): Expect => ({ anonymous: status, user: status, other: status, staff: status, superuser: status })
const rule = (expect: Expect, extra: Omit<Rule, 'expect'> = {}): Rule => ({ expect, ...extra })
/** Anyone, signed in or not. */
const open = (status: number, extra?: Omit<Rule, 'expect'>) => rule(same(status), extra)
/** Any signed-in user. */
const signedIn = (status: number, extra?: Omit<Rule, 'expect'>) => rule({ ...same(status), anonymous: 401 }, extra)
/** The owner's object: everybody else, staff included, is told it does not exist. */
const owned = (status: number, extra?: Omit<Rule, 'expect'>) =>
  rule({ anonymous: 401, user: status, other: 404, staff: 404, superuser: 404 }, { object: 'request-of-user', ...extra })
/** The owner's object, which staff may follow too (a request's live log: API.md's job page "for
 * the owner and for staff"); another user is still told it does not exist. */
const ownedOrStaff = (status: number, extra?: Omit<Rule, 'expect'>) =>
  rule({ anonymous: 401, user: status, other: 404, staff: status, superuser: status }, { object: 'request-of-user', ...extra })
/** Staff and superusers; signed-in others are forbidden. */
const staffOnly = (status: number, extra?: Omit<Rule, 'expect'>) => rule({ anonymous: 401, user: 403, other: 403, staff: status, superuser: status }, extra)
/** A maintenance feature: to non-staff it does not exist. */
const system = (status: number, extra?: Omit<Rule, 'expect'>) => rule({ anonymous: 401, user: 404, other: 404, staff: status, superuser: status }, extra)
/** A maintenance run owned by the staff member: not another staff member's, nor anyone else's. */
const systemOwned = (status: number, extra?: Omit<Rule, 'expect'>) =>
  rule({ anonymous: 401, user: 404, other: 404, staff: status, superuser: 404 }, { object: 'request-of-staff', ...extra })

const NEW_PASSWORD = 'an entirely different passphrase'
const schedule = (ctx: CellContext) => ({ name: `matrix ${ctx.n}`, feature: 'text-stats', cron: '0 3 * * *', timezone: 'UTC', input: { text: 'hi' } })
/** A valid create input for each feature (a feature added without one here fails the test, by name). */
const CREATE_INPUTS: Record<string, Omit<Rule, 'expect'>> = {
  'text-stats': { body: () => ({ text: 'hello world' }) },
  'csv-profile': { multipart: () => multipart({}, { name: 'data.csv', content: 'a,b\n1,2\n', type: 'text/csv' }) },
  'clear-expired-sessions': { body: () => ({}) },
  'purge-old-requests': { body: () => ({ older_than_days: 30 }) },
}

const TABLE: Record<string, Rule | ((feature: string) => Rule)> = {
  // Accounts: the public ones answer everyone alike; the rest need a key.
  'POST /api/v1/auth/registration/': open(201, { body: (c) => ({ email: `new${c.n}@example.com`, password1: NEW_PASSWORD, password2: NEW_PASSWORD }) }),
  'POST /api/v1/auth/registration/verify-email/': open(404, { body: () => ({ key: 'not-a-key' }) }),
  'POST /api/v1/auth/registration/resend-email/': open(200, { body: (c) => ({ email: c.email }) }),
  'POST /api/v1/auth/login/': open(200, { body: (c) => ({ email: c.email, password: PASSWORD }) }),
  'POST /api/v1/auth/logout/': open(200),
  'GET /api/v1/auth/user/': signedIn(200),
  'PUT /api/v1/auth/user/': signedIn(200, { body: () => ({ name: 'Renamed' }) }),
  'PATCH /api/v1/auth/user/': signedIn(200, { body: () => ({ name: 'Renamed' }) }),
  'GET /api/v1/users/me/': signedIn(200),
  'POST /api/v1/auth/password/change/': signedIn(200, { body: () => ({ old_password: PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }) }),
  'POST /api/v1/auth/password/reset/': open(200, { body: (c) => ({ email: c.email }) }),
  'POST /api/v1/auth/password/reset/confirm/': open(400, { body: () => ({ uid: '1', token: 'x-y', new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }) }),

  // Processing requests, for every ordinary feature.
  'GET /api/v1/features/': signedIn(200),
  'GET /api/v1/jobs/list/': signedIn(200),
  'POST /api/v1/:feature/create/': (f) => signedIn(202, CREATE_INPUTS[f]),
  'GET /api/v1/:feature/list/': signedIn(200),
  'GET /api/v1/:feature/status/:id/': owned(200),
  'GET /api/v1/:feature/results/:id/': owned(200),
  'GET /api/v1/:feature/download-results/:id/': owned(200),
  'GET /api/v1/:feature/download-file/:id/:name/': owned(200),
  'GET /api/v1/:feature/events/:id/': ownedOrStaff(200),
  'POST /api/v1/:feature/cancel/:id/': owned(409), // completed already: the owner is told so, nobody else
  'DELETE /api/v1/:feature/delete/:id/': owned(204),

  // Maintenance features: staff's only.
  'POST /api/v1/:system/create/': (f) => system(202, CREATE_INPUTS[f]),
  'GET /api/v1/:system/list/': system(200),
  'GET /api/v1/:system/status/:id/': systemOwned(200),
  'GET /api/v1/:system/results/:id/': systemOwned(200),
  'GET /api/v1/:system/download-results/:id/': systemOwned(200),
  'GET /api/v1/:system/download-file/:id/:name/': systemOwned(200),
  'GET /api/v1/:system/events/:id/': system(200, { object: 'request-of-staff' }), // staff follow any run's log
  'POST /api/v1/:system/cancel/:id/': systemOwned(409),
  'DELETE /api/v1/:system/delete/:id/': systemOwned(204),

  // Administration.
  'GET /api/v1/admin/jobs/': staffOnly(200),
  'GET /api/v1/admin/jobs/:id/': staffOnly(200, { object: 'request-of-user' }),
  'GET /api/v1/admin/schedules/': staffOnly(200),
  'POST /api/v1/admin/schedules/': staffOnly(201, { body: schedule }),
  'GET /api/v1/admin/schedules/:id/': staffOnly(200, { object: 'schedule' }),
  'PUT /api/v1/admin/schedules/:id/': staffOnly(200, { object: 'schedule', body: schedule }),
  'PATCH /api/v1/admin/schedules/:id/': staffOnly(200, { object: 'schedule', body: () => ({ description: 'changed' }) }),
  'DELETE /api/v1/admin/schedules/:id/': staffOnly(204, { object: 'schedule' }),
  'POST /api/v1/admin/schedules/:id/run-now/': staffOnly(202, { object: 'schedule' }),
  'GET /api/v1/admin/users/': staffOnly(200),
  'POST /api/v1/admin/users/': staffOnly(201, { body: (c) => ({ email: `created${c.n}@example.com`, name: 'Created' }) }),
  'GET /api/v1/admin/users/:pk/': staffOnly(200, { object: 'account' }),
  'PUT /api/v1/admin/users/:pk/': staffOnly(200, { object: 'account', body: () => ({ name: 'Renamed', is_active: true }) }),
  'PATCH /api/v1/admin/users/:pk/': staffOnly(200, { object: 'account', body: () => ({ name: 'Renamed' }) }),
  'DELETE /api/v1/admin/users/:pk/': staffOnly(204, { object: 'account' }),
  'POST /api/v1/admin/users/:pk/set-password/': staffOnly(200, { object: 'account', body: () => ({ password: NEW_PASSWORD }) }),
  'POST /api/v1/admin/jobs/:id/retry/': staffOnly(409, { object: 'request-of-user' }), // completed: nothing to retry
  'POST /api/v1/admin/jobs/:id/cancel/': staffOnly(409, { object: 'request-of-user' }),
  'DELETE /api/v1/admin/jobs/:id/': staffOnly(204, { object: 'request-of-user' }),
  'POST /api/v1/admin/jobs/bulk/': staffOnly(200, { body: () => ({ action: 'cancel', ids: ['00000000-0000-4000-8000-000000000000'] }) }),
  'GET /api/v1/admin/audit-log/': staffOnly(200),
  'GET /api/v1/admin/monitoring/': staffOnly(200),
  'POST /api/v1/admin/monitoring/features/:name/pause/': staffOnly(200),
  'POST /api/v1/admin/monitoring/features/:name/resume/': staffOnly(200),
  'PATCH /api/v1/admin/monitoring/features/:name/': staffOnly(200, { body: () => ({ concurrency: null }) }),
  'GET /metrics': staffOnly(200), // or METRICS_TOKEN (test/monitoring/metrics.test.ts)

  // Social login (no provider configured here: every provider id is unknown).
  'GET /api/v1/auth/providers/': open(200),
  'GET /api/v1/auth/oidc/:provider/login/': open(404),
  'GET /api/v1/auth/oidc/:provider/callback/': open(302), // to /sign-in?error=unknown_provider
  'GET /api/v1/auth/social-accounts/': signedIn(200),
  'DELETE /api/v1/auth/social-accounts/:provider/': signedIn(404), // nothing linked
  'DELETE /api/v1/auth/social-accounts/': signedIn(400), // names no provider

  // System, documentation and the SPA: public.
  'GET /api/v1/version-info/': open(200),
  'GET /healthz': open(200),
  'GET /readyz': open(200),
  'GET /api/schema/': open(200),
  'GET /api/docs': open(200),
  'GET /api/docs/json': open(200),
  'GET /api/docs/yaml': open(200),
  'GET /api/docs/static/index.html': open(302), // to /api/docs/
  'GET /api/docs/static/swagger-initializer.js': open(200),
  'GET /api/docs/static/*': open(200),
  'GET /': open(200),
}
/** Concrete values for wildcard segments. */
const WILDCARDS: Record<string, string> = { '/api/docs/static/*': '/api/docs/static/swagger-ui.css' }
/** The built SPA's assets are one wildcard route (server/spa.ts), there once the client is built: public. */
function classifyAssets(routes: { url: string }[]): void {
  const route = `${ASSETS_PREFIX}*`
  if (!routes.some((r) => r.url === route)) return
  TABLE[`GET ${route}`] = open(200)
  WILDCARDS[route] = `${ASSETS_PREFIX}${readdirSync(path.join(clientDist(projectRoot), ASSETS_PREFIX))[0]}`
}

t.test('every route answers every role as the table says; no route is unclassified', async (t) => {
  const built = await buildWithRoutes(t)
  classifyAssets(built.routes)
  const accounts = await roleAccounts(built)
  const names = new Map(built.features.map((f) => [f.name, f.system ? ':system' : ':feature']))
  /** The table's key for a route: a feature's name becomes :feature or :system; HEAD is its GET. */
  const keyOf = (method: string, url: string): { key: string; feature: string | null } => {
    const m = /^\/api\/v1\/([^/]+)\//.exec(url)
    const kind = m ? names.get(m[1]!) : undefined
    const path = kind ? url.replace(`/api/v1/${m![1]}/`, `/api/v1/${kind}/`) : url
    return { key: `${method === 'HEAD' ? 'GET' : method} ${path}`, feature: kind ? m![1]! : null }
  }

  const unclassified: string[] = []
  const used = new Set<string>()
  let cells = 0
  let routes = 0
  let n = 0
  const mismatches: string[] = []
  for (const route of built.routes) {
    const { key, feature } = keyOf(route.method, route.url)
    const entry = TABLE[key]
    if (!entry) {
      unclassified.push(`${route.method} ${route.url}`)
      continue
    }
    used.add(key)
    const r = typeof entry === 'function' ? entry(feature!) : entry
    if (typeof entry === 'function' && !CREATE_INPUTS[feature!]) {
      unclassified.push(`${route.method} ${route.url} (no valid input for feature ${feature} in CREATE_INPUTS)`)
      continue
    }
    routes++
    for (const role of ROLES) {
      n++
      const ctx: CellContext = { role, feature: feature ?? '', n, email: role === 'anonymous' ? accounts.users.user.email : accounts.users[role].email }
      const url = await concreteUrl(built, accounts, route.url, r, role)
      const key2 = await accounts.key(role)
      const headers: Record<string, string> = key2 ? { authorization: `Bearer ${key2}` } : {}
      const options: InjectOptions = { method: route.method as InjectOptions['method'], url, headers }
      if (r.multipart) {
        const body = r.multipart(ctx)
        Object.assign(headers, body.headers)
        options.payload = body.payload
      } else if (r.body) options.payload = (await r.body(ctx)) as InjectOptions['payload']
      const res = await built.app.inject(options)
      cells++
      const want = r.expect[role]
      if (res.statusCode !== want) mismatches.push(`${route.method} ${url} as ${role}: ${res.statusCode}, expected ${want} ${res.body.slice(0, 200)}`)
      if (res.statusCode === 403 && r.expect.other === 404) mismatches.push(`${route.method} ${url} as ${role}: 403 for someone else's object (must be 404)`)
      // Only the account routes change the accounts (a name, a password): put them back.
      if (!['GET', 'HEAD'].includes(route.method) && url.startsWith('/api/v1/auth/')) await accounts.restore()
    }
  }
  const stale = Object.keys(TABLE).filter((k) => !used.has(k))
  t.same(unclassified, [], 'every route has a line in the table')
  t.same(stale, [], 'every line in the table names a route')
  t.same(mismatches, [], 'every cell answers as the table says')
  t.comment(`authorisation matrix: ${routes} routes × ${ROLES.length} roles = ${cells} cells`)
  t.ok(cells >= 100, `${cells} cells checked`)
})

/** The route's URL with its parameters filled: a fresh object per cell, owned as the rule says. */
async function concreteUrl(built: Built, accounts: Awaited<ReturnType<typeof roleAccounts>>, template: string, r: Rule, role: Role): Promise<string> {
  let url = WILDCARDS[template] ?? template
  if (url.includes(':id')) {
    let id: string
    const feature = /^\/api\/v1\/([^/]+)\//.exec(url)?.[1] ?? 'text-stats'
    if (r.object === 'schedule') {
      const staffKey = await accounts.key('staff')
      const res = await built.app.inject({
        method: 'POST', url: '/api/v1/admin/schedules/', headers: { authorization: `Bearer ${staffKey}` },
        payload: { name: `fixture ${Math.random()}`, feature: 'text-stats', cron: '0 3 * * *', timezone: 'UTC', input: { text: 'hi' } },
      })
      id = res.json().id
    } else {
      const owner = r.object === 'request-of-staff' ? accounts.users.staff : accounts.users.user
      id = await completedRequest(built, owner.id, feature === 'admin' ? 'text-stats' : feature)
    }
    url = url.replace(':id', id)
  }
  if (url.includes(':pk')) {
    // A fresh ordinary account for each cell (a cell may delete or rename it).
    const account = await createUser(built.services.db, { email: `account-${Math.random().toString(36).slice(2)}@example.com`, password: PASSWORD })
    url = url.replace(':pk', String(account.id))
  }
  void role
  return url.replace('/features/:name/', '/features/text-stats/').replace(':name', OUTPUT_FILE).replace(':provider', 'corp')
}
