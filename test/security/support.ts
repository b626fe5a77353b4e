// Shared by the security tests: the app's real route table (recorded as the app is built), the
// five roles with fresh keys, and objects owned by someone in particular.
import dc from 'node:diagnostics_channel'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { Test } from 'tap'
import { createSession } from '../../server/accounts/sessions.ts'
import { createUser } from '../../server/accounts/users.ts'
import type { User } from '../../db/types.ts'
import { featuresOf, moduleUrls } from '../../worker/features/registry.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { build, type BuildOptions } from '../helper.ts'

export interface RouteEntry {
  method: string
  url: string
  /** The field names its schema declares for the body and the query string (for the fuzzer). */
  bodyFields: string[]
  queryFields: string[]
}

const fieldsOf = (schema: unknown): string[] => Object.keys((schema as { properties?: object } | undefined)?.properties ?? {})

/**
 * Builds the real app and records every route it registers: an onRoute hook is put on each
 * Fastify instance as it is created (Fastify's `fastify.initialization` diagnostics channel), so
 * it sees the routes of every plugin, whoever registers them.
 */
export async function buildWithRoutes(t: Test, options: BuildOptions = {}) {
  const routes: RouteEntry[] = []
  const onInit = (message: unknown) => {
    const { fastify } = message as { fastify: FastifyInstance }
    fastify.addHook('onRoute', (route: RouteOptions) => {
      const schema = route.schema as { body?: unknown; querystring?: unknown } | undefined
      const bodyFields = fieldsOf(schema?.body)
      const queryFields = fieldsOf(schema?.querystring)
      for (const method of ([] as string[]).concat(route.method)) routes.push({ method, url: route.url, bodyFields, queryFields })
    })
  }
  dc.subscribe('fastify.initialization', onInit)
  let built
  try {
    const media = await mkdtemp(path.join(os.tmpdir(), 'conveyor-security-'))
    t.teardown(() => rm(media, { recursive: true, force: true }))
    built = await build(t, { ...options, env: { MEDIA_ROOT: media, ...options.env } })
  } finally {
    dc.unsubscribe('fastify.initialization', onInit)
  }
  const unique = new Map(routes.map((r) => [`${r.method} ${r.url}`, r]))
  const features = featuresOf(moduleUrls(built.config.featureModules))
  return { ...built, routes: [...unique.values()], features }
}

export const ROLES = ['anonymous', 'user', 'other', 'staff', 'superuser'] as const
export type Role = (typeof ROLES)[number]
export const PASSWORD = 'a long enough passphrase'

export type Built = Awaited<ReturnType<typeof buildWithRoutes>>

/** One account per signed-in role; `key(role)` gives a fresh session's key each time. */
export async function roleAccounts(built: Built) {
  const { db } = built.services
  const tag = `${process.pid}-${Date.now()}`
  const make = (name: string, flags: { isStaff?: boolean; isSuperuser?: boolean } = {}) =>
    createUser(db, { email: `${name}-${tag}@example.com`, password: PASSWORD, emailVerified: true, name, ...flags })
  const users: Record<Exclude<Role, 'anonymous'>, User> = {
    user: await make('user'),
    other: await make('other'),
    staff: await make('staff', { isStaff: true }),
    superuser: await make('superuser', { isStaff: true, isSuperuser: true }),
  }
  async function key(role: Role): Promise<string | null> {
    if (role === 'anonymous') return null
    const session = await createSession(db, users[role].id, built.config.tokenTtlSeconds)
    return built.app.issueToken(session)
  }
  /** Puts the accounts back as they were (a cell may change a name or a password). */
  async function restore(): Promise<void> {
    for (const u of Object.values(users)) {
      await db.updateTable('users').set({ password: u.password, name: u.name, is_active: true, is_staff: u.is_staff }).where('id', '=', u.id).execute()
    }
    built.app.sessionCache.forget({ users: Object.values(users).map((u) => u.id) })
  }
  return { users, key, restore }
}

export const OUTPUT_FILE = 'report.txt'

/** A completed request of `feature` owned by `ownerId`, with a result document and one output file. */
export async function completedRequest(built: Built, ownerId: number, feature: string): Promise<string> {
  const { db } = built.services
  const now = new Date()
  const row = await db.insertInto('processing_requests').values({
    owner_id: ownerId, feature, input: '{}', status: 'completed', progress: 100, attempts: 1,
    started_at: now, finished_at: now,
  }).returning('id').executeTakeFirstOrThrow()
  await db.insertInto('processing_results').values({
    request_id: row.id, data: JSON.stringify({ ok: true }),
    files: JSON.stringify([{ name: OUTPUT_FILE, size: 2, content_type: 'text/plain' }]),
  }).execute()
  const dir = path.join(built.config.mediaRoot, row.id, 'output')
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, OUTPUT_FILE), 'ok')
  return row.id
}
