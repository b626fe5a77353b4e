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

export function createDb(url: string, options: DbOptions = {}): Db {
  const pool = createPool(url, options)
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', () => {})
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  registerPool(db, pool)
  return db
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
