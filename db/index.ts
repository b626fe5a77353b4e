// Kysely over a pg pool: the one way the application talks to PostgreSQL.
import { Kysely, PostgresDialect, type Transaction } from 'kysely'
import pg from 'pg'
import type { Database } from './types.ts'

// int8 (bigint, count(*)) as JS numbers: our counts and sizes stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

export type Db = Kysely<Database>
/** Data-access functions take `Executor`, so they work on the pool or inside a transaction. */
export type Executor = Kysely<Database> | Transaction<Database>

export interface DbOptions {
  max?: number
  applicationName?: string
}

export function createPool(url: string, options: DbOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'conveyor',
    // Fail fast when the server is unreachable instead of queueing requests for ever.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  })
  // The pool listens for errors only on idle clients: it takes its listener off a client it hands
  // out. A checked-out client whose server goes away between two statements (a restart, an admin's
  // pg_terminate_backend) then emits an unheard 'error', which kills the process. This listener stays
  // for the client's life; the failure still reaches the caller's next statement, and the broken
  // client is dropped when it is released (pg-pool checks that it is still queryable).
  pool.on('connect', (client) => client.on('error', () => {}))
  return pool
}

// The pg pool under each Kysely instance made here: a few hot paths send named (prepared)
// statements on it directly, which Kysely cannot (db/prepared.ts).
const pools = new WeakMap<object, pg.Pool>()

export function registerPool(db: object, pool: pg.Pool): void {
  pools.set(db, pool)
}

/** The pool of `db` when `db` is a pool-wide instance (not a transaction or a single connection). */
export function poolOf(db: object): pg.Pool | undefined {
  return pools.get(db)
}

/**
 * Kysely ends its pool on destroy() only if it ever ran a query itself: its driver starts lazily. A
 * pool used only through another instance on it (db/prepared.ts: the engine's own pool is used that
 * way alone) then kept its idle connections open on destroy, and the process that had shut down
 * stayed alive until they timed out (idleTimeoutMillis, 30 s). This one always ends its pool.
 */
class PoolKysely extends Kysely<Database> {
  readonly #pool: pg.Pool
  constructor(pool: pg.Pool) {
    super({ dialect: new PostgresDialect({ pool }) })
    this.#pool = pool
  }
  override async destroy(): Promise<void> {
    await super.destroy()
    if (!this.#pool.ending) await this.#pool.end()
  }
}

export function createDb(url: string, options: DbOptions = {}): Db {
  const pool = createPool(url, options)
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', () => {})
  const db = new PoolKysely(pool)
  registerPool(db, pool)
  return db
}

// SQLSTATEs of a server that is not there for us right now: class 08 (connection exception),
// admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down), too_many_connections.
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300'])
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'])
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection refused|the database system is (starting up|shutting down|in recovery mode)/i

/**
 * True when `err` says the database cannot be reached (down, restarting, connection cut), as
 * opposed to a statement that failed: the API answers 503 for it, the engine waits and tries again.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : ''
    if (code.startsWith('08') || UNAVAILABLE_STATES.has(code) || UNAVAILABLE_CODES.has(code)) return true
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true
    if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x))) return true // AggregateError of each address
  }
  return false
}

/** Redacts the password of a connection string for logs. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || 5432}/${u.pathname.slice(1)} as ${decodeURIComponent(u.username) || 'default user'}`
  } catch {
    return 'the configured database'
  }
}
