// Test helpers: build the real app on its own database (cloned from the migrated template).
import type { Test } from 'tap'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { DestinationStream } from 'pino'
import { buildApp } from '../server/app.ts'
import { loadConfig, projectRoot, type Config } from '../server/config.ts'
import { createLogger } from '../server/logger.ts'
import { openServices, type Services } from '../server/services.ts'
import { createUser, type NewUserInput } from '../server/accounts/users.ts'
import { createSession } from '../server/accounts/sessions.ts'
import type { User } from '../db/types.ts'
import { cloneTemplate, dropDatabase } from './setup/database.ts'
import { startEngine, type Engine } from '../worker/index.ts'
import { engineDeps } from '../server/start.ts'

export const adminUrl = (): string => {
  const url = process.env.CONVEYOR_TEST_ADMIN_URL
  if (!url) throw new Error('Run the tests with `npm test` (it prepares the database); or set CONVEYOR_TEST_ADMIN_URL and CONVEYOR_TEST_TEMPLATE')
  return url
}

/** A fresh database for one test; dropped when the test ends, kept for inspection when the test
 * failed (or KEEP_TEST_DB is set), with a line naming the test and the database. */
export async function testDatabase(t: Test): Promise<{ name: string; url: string }> {
  const admin = adminUrl()
  const db = await cloneTemplate(admin, process.env.CONVEYOR_TEST_TEMPLATE!)
  t.teardown(async () => {
    if (process.env.KEEP_TEST_DB || !t.passing()) {
      // test/run.ts collects these lines into its summary.
      console.log(`# kept database ${db.name} of ${t.passing() ? 'passing' : 'FAILED'} test "${t.fullname}"`)
    } else {
      await dropDatabase(admin, db.name)
    }
  })
  return db
}

export function testConfig(url: string, env: Record<string, string> = {}): Config {
  // Small pools: several test files, each with one or two instances, share one server (100
  // connections by default); a test that needs more says so.
  return loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, WORKER_THREADS: '2', DATABASE_POOL_SIZE: '6', ...env }, projectRoot)
}

export interface Built {
  app: FastifyInstance
  services: Services
  config: Config
  url: string
  /** The job engine, when built with `engine: true` (stopped before the app closes). */
  engine: Engine | null
}

export interface BuildOptions {
  /** Environment variables on top of the test profile's. */
  env?: Record<string, string>
  /** Extra routes a test needs, added before the app is ready. */
  routes?: (app: FastifyInstance) => void
  /** Also start the job engine (worker threads) on the same services. */
  engine?: boolean
  /** Where the app's log lines go (e.g. to capture them), instead of stdout. */
  logTo?: DestinationStream
}

/** Builds the real app (real PostgreSQL, real pg-boss) and closes it when the test ends. */
export async function build(t: Test, options: BuildOptions = {}): Promise<Built> {
  const { url } = await testDatabase(t)
  const config = testConfig(url, options.env)
  const services = await openServices(config, createLogger(config, options.logTo), url)
  const app = await buildApp(services)
  options.routes?.(app)
  await app.ready()
  const engine = options.engine ? await startEngine(engineDeps(services)) : null
  t.teardown(async () => {
    await engine?.stop()
    await app.close()
    await services.close()
  })
  await freshThrottleWindows(options.env)
  return { app, services, config, url, engine }
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const
/** Of a test's attempts against a throttle, none may come more than this after the first. */
const THROTTLE_MARGIN_MS = 15_000

/**
 * The throttles count in fixed windows aligned on the clock (server/accounts/throttle.ts): a test
 * whose attempts straddle a window's end sees the count start again, and fails 1 run in ~60 for a
 * one-minute window. When a rate the test sets (THROTTLE_*) has its window end within the margin,
 * this waits for the next window to begin (PostgreSQL runs on this machine's clock).
 */
async function freshThrottleWindows(env: Record<string, string> = {}): Promise<void> {
  let wait = 0
  for (const [name, rate] of Object.entries(env)) {
    const m = name.startsWith('THROTTLE_') ? /^\d+\/(\d*)([smhd])$/.exec(rate) : null
    if (!m) continue
    const windowMs = Number(m[1] || 1) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] * 1000
    if (windowMs < 4 * THROTTLE_MARGIN_MS) continue // too short for the margin: such a test must not depend on it
    const left = windowMs - (Date.now() % windowMs)
    if (left < THROTTLE_MARGIN_MS) wait = Math.max(wait, left + 50)
  }
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}

let counter = 0
/** Creates a user straight in the database, with a session and its API key. */
export async function userWithToken(built: Built, input: Partial<NewUserInput> = {}): Promise<{ user: User; token: string; headers: Record<string, string> }> {
  const user = await createUser(built.services.db, {
    email: input.email ?? `user${++counter}-${process.pid}@example.com`,
    password: input.password ?? 'a long enough passphrase',
    emailVerified: true,
    ...input,
  })
  const session = await createSession(built.services.db, user.id, built.config.tokenTtlSeconds)
  const token = built.app.issueToken(session)
  return { user, token, headers: { authorization: `Bearer ${token}` } }
}

/** app.inject with the JSON body parsed. */
export async function api(app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse & { body: string; data: any }> {
  const res = await app.inject(options)
  let data: unknown
  try { data = res.json() } catch { data = undefined }
  return Object.assign(res, { data })
}
