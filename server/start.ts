// Start-up and shutdown, in the order DESIGN.md gives: config → database → migrations → one-time
// setup → superuser → roles; on a signal, the same in reverse with a grace period.
import type { FastifyInstance } from 'fastify'
import { createDb } from '../db/index.ts'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded.ts'
import { migrateToLatest } from '../db/migrate.ts'
import { waitForDatabase } from '../db/wait.ts'
import { runSetup } from '../seeds/index.ts'
import { startEngine, startInstanceHeartbeat, startScheduler, type Engine, type EngineDeps, type InstanceBeat, type Scheduler } from '../worker/index.ts'
import { buildWorkerApp } from './worker-app.ts'
import type { Config } from './config.ts'
import type { Logger } from './logger.ts'
import { openServices, type Services } from './services.ts'
import { upsertSuperuser } from './accounts/users.ts'
import { reclaimWhenIdle } from '../worker/threads/reclaim.ts'

export interface Database {
  url: string
  embedded: EmbeddedPostgres | null
}

/** Starts the embedded PostgreSQL, or waits for the configured one. */
export async function connectDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.databaseUrl) {
    await waitForDatabase(config.databaseUrl, { timeoutSeconds: config.databaseWaitSeconds, log })
    return { url: config.databaseUrl, embedded: null }
  }
  log.info('No DATABASE_URL or POSTGRES_HOST: using the embedded PostgreSQL (development only)')
  const embedded = await startEmbeddedPostgres(config.embeddedPostgres.dir, config.embeddedPostgres.port, log)
  return { url: embedded.url, embedded }
}

/** Runs `fn` with a short-lived Kysely on the database (for the CLI's one-shot commands). */
export async function withDb<T>(url: string, fn: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const db = createDb(url, { max: 2, applicationName: 'conveyor-cli' })
  try {
    return await fn(db)
  } finally {
    await db.destroy()
  }
}

export async function migrate(url: string, log: Logger): Promise<void> {
  const applied = await withDb(url, migrateToLatest)
  log.info(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date')
}

export async function ensureSuperuser(services: Pick<Services, 'db' | 'log'>, admin: Config['admin']): Promise<void> {
  if (!admin) return
  const { created } = await upsertSuperuser(services.db, admin.email, admin.password)
  services.log.info(`${created ? 'Created' : 'Updated'} superuser ${admin.email}`)
}

/**
 * What the job engine takes from the running services: its own settings, not the whole config.
 * Beside the API (role `all`) it gets a pool of its own, WORKER_THREADS + 2 connections (its claim
 * loop, its completion groups, and the threads' failures, progress and log lines): when a burst of
 * requests fills the API's pool, the engine's claims and saves do not queue behind them.
 */
export function engineDeps(services: Services): EngineDeps {
  const { db, boss, log, databaseUrl, config, metrics } = services
  return {
    db, boss, log, databaseUrl, settings: config, metrics, role: config.role,
    ...(config.role === 'all' ? { poolSize: config.workerThreads + 2 } : {}),
  }
}

export interface Running {
  app: FastifyInstance | null
  services: Services
  url: string | null
  /** Graceful stop: stop accepting, finish in-flight work within the grace period, close. */
  stop(): Promise<void>
}

export async function start(config: Config, log: Logger): Promise<Running> {
  const runsApi = config.role !== 'worker'
  const runsWorker = config.role !== 'api'
  // The HTTP app's modules (most of the import graph: Fastify, its plugins, every route's schemas)
  // are imported while start-up waits on the database, instead of before it starts; a worker-only
  // instance never imports them. Measured on compiled JavaScript: ~1 s of imports before this.
  const appModule = runsApi ? import('./app.ts') : null
  appModule?.catch(() => {}) // a failure is thrown where it is awaited; until then it is not unhandled
  const database = await connectDatabase(config, log)
  let services: Services | undefined
  let app: FastifyInstance | null = null
  // (assigned in a callback below: declared so that TypeScript does not narrow them to null)
  let engine = null as Engine | null
  let scheduler = null as Scheduler | null
  let beat: InstanceBeat | null = null
  try {
    await migrate(database.url, log)
    services = await openServices(config, log, database.url)
    await runSetup(services.db, { config, log })
    await ensureSuperuser(services, config.admin)

    // The engine starts while the app is built: its threads boot and its queries run on their own,
    // so the main thread, idle for most of the engine's start, builds the app meanwhile (measured,
    // compiled, 2 threads: ~190 ms of the engine's start is waiting). Every role listens on PORT:
    // the API (and SPA), or, worker-only, just /healthz and /readyz. Only once both are up does it
    // listen, so /readyz, which reports the engine, never sees it missing.
    const s = services
    const engineView = runsWorker ? { stats: () => engine!.stats() } : null
    const [built, started] = await Promise.allSettled([
      appModule ? appModule.then(({ buildApp }) => buildApp({ ...s, engine: engineView })) : buildWorkerApp({ db: s.db, engine: engineView, log }),
      runsWorker ? (async () => {
        engine = await startEngine(engineDeps(s))
        scheduler = await startScheduler(s)
      })() : null,
    ])
    if (built.status === 'fulfilled') app = built.value
    if (started.status === 'rejected') throw started.reason
    if (built.status === 'rejected') throw built.reason
    app = built.value
    const url = await app.listen({ host: config.host, port: config.port })
    log.info(`Conveyor ${config.version} ready: ${url}${runsApi ? '' : ' (health probes only)'} role=${config.role} env=${config.env} threads=${runsWorker ? config.workerThreads : 0}`)
    // An API-only instance is listed by monitoring too (the engine announces the others).
    if (!runsWorker) beat = await startInstanceHeartbeat(services.db, log, { role: config.role, stats: () => ({ threads: 0, busy: 0 }) })
    // Idle here means no HTTP request for 3 s and the loop all but still (claims, saves and
    // notifications keep it busier than that); the job threads watch themselves (thread.ts).
    let requests = 0
    app.server.on('request', () => { requests++ })
    const stopReclaim = reclaimWhenIdle({
      activity: () => requests,
      onReclaim: (r) => log.debug(r, 'idle: heap given back'),
    })
    if (!stopReclaim) log.warn('V8 did not hand out gc(): memory left by a burst is not given back at idle')

    let stopping: Promise<void> | undefined
    return {
      app, services: s, url,
      stop() {
        stopping ??= (async () => {
          log.info('Shutting down: no new requests; finishing in-flight work')
          stopReclaim?.()
          const grace = config.shutdownGraceSeconds * 1000
          const closeApp = app ? Promise.race([app.close(), new Promise((r) => setTimeout(r, grace).unref())]) : Promise.resolve()
          await Promise.all([closeApp, scheduler?.stop(), engine?.stop(), beat?.stop()])
          await s.close()
          await database.embedded?.stop()
          log.info('Shutdown complete')
        })()
        return stopping
      },
    }
  } catch (err) {
    await app?.close().catch(() => {})
    await beat?.stop().catch(() => {})
    await scheduler?.stop().catch(() => {})
    await engine?.stop().catch(() => {})
    await services?.close().catch(() => {})
    await database.embedded?.stop()
    throw err
  }
}
