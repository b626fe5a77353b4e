// Named (prepared) statements for the hot paths: Kysely sends every query unnamed, so PostgreSQL
// parses and plans it each time, which for pg-boss's job INSERT costs more than executing it.
// Works on the pool under a Kysely instance made by createDb (db/index.ts: poolOf).
import { Kysely, PostgresDialect } from 'kysely'
import type pg from 'pg'
import { poolOf, registerPool } from './index.ts'

// Statement names by text: the same text gets the same name on every connection. Bounded, so a
// caller generating endless distinct texts falls back to unnamed statements instead of growing
// every connection's prepared-statement cache.
const names = new Map<string, string>()
const MAX_NAMED = 300
function nameOf(text: string): string | undefined {
  let name = names.get(text)
  if (!name && names.size < MAX_NAMED) names.set(text, (name = `conveyor_${names.size + 1}`))
  return name
}

type Client = pg.PoolClient
const wrappers = new WeakMap<Client, object>()

/**
 * A Kysely instance on the same pool as `db` (registered with registerPool) whose parameterised
 * statements are named, so each connection parses and plans them once. Statements without
 * parameters (BEGIN, COMMIT, several statements in one string) stay on the simple protocol.
 * Meant for the engine's fixed set of statements; null when `db` has no registered pool.
 */
export function preparedDb<T>(db: Kysely<T>): Kysely<T> | null {
  const pool = poolOf(db)
  if (!pool) return null
  const wrapping = {
    Client: (pool as unknown as { Client: unknown }).Client,
    options: pool.options,
    async connect() {
      const client = await pool.connect()
      let wrapper = wrappers.get(client)
      if (!wrapper) {
        // A prepared statement whose result type changed under it (a column added by another
        // instance's migration) fails on this connection for good: such a connection is closed on
        // release instead of going back to the pool (pool.query does the same for any error).
        let stale = false
        wrapper = {
          query(text: unknown, values?: unknown[]) {
            if (typeof text === 'string' && values && values.length > 0) {
              const name = nameOf(text)
              if (name) {
                return client.query({ name, text, values }).catch((err: { code?: string }) => {
                  if (err?.code === '0A000') stale = true
                  throw err
                })
              }
            }
            return client.query(text as string, values)
          },
          release: (destroy?: boolean) => {
            if (stale) wrappers.delete(client)
            client.release(destroy || stale)
          },
        }
        wrappers.set(client, wrapper)
      }
      return wrapper
    },
    end: async () => {}, // the pool belongs to `db`
  }
  const prepared = new Kysely<T>({ dialect: new PostgresDialect({ pool: wrapping as never }) })
  registerPool(prepared, pool)
  return prepared
}
