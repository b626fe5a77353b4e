// db/migrate.ts: a current schema is recognised without Kysely's migrator (no lock, no imports);
// everything else still goes through the migrator, with its answers and its errors.
import pg from 'pg'
import t from 'tap'
import type { Test } from 'tap'
import { createDb } from '../../db/index.ts'
import { migrateToLatest, pendingMigrations, schemaIsCurrent } from '../../db/migrate.ts'
import { testDatabase } from '../helper.ts'

// The session-level advisory lock Kysely's PostgreSQL adapter takes around a migration run.
const KYSELY_LOCK = '3853314791062309107'

async function holdMigrationLock(t: Test, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`SELECT pg_advisory_lock(${KYSELY_LOCK})`)
  t.teardown(() => client.end())
  return client
}

/** Resolves once some other session of this database waits on an advisory lock (or `until` says stop). */
async function someoneWaitsForTheLock(client: pg.Client, until: () => boolean = () => false): Promise<void> {
  while (!until()) {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`)
    if (rows[0].n > 0) return
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('a current schema is answered without the migrator: a run holding its lock does not hold us up', async (t) => {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max: 2 })
  t.teardown(() => db.destroy())
  const locker = await holdMigrationLock(t, url)
  t.equal(await schemaIsCurrent(db), true)
  let settled = false
  const outcome = await Promise.race([
    migrateToLatest(db).then((applied) => ({ applied }), (err: Error) => ({ error: err.message })).finally(() => { settled = true }),
    someoneWaitsForTheLock(locker, () => settled).then(() => 'waited for the migration lock'),
  ])
  t.same(outcome, { applied: [] }, 'nothing to apply, and no wait for the lock')
  t.same(await pendingMigrations(db), [])
})

t.test('a migration not recorded goes to the migrator, which waits for the lock and applies it', async (t) => {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max: 2 })
  t.teardown(() => db.destroy())
  const locker = await holdMigrationLock(t, url)
  // Take the newest migration back: its row, and what it made (its own down()).
  const { rows: [last] } = await locker.query<{ name: string }>('SELECT name FROM kysely_migration ORDER BY name DESC LIMIT 1')
  const { down } = await import(`../../db/migrations/${last!.name}.ts`) as { down(db: unknown): Promise<void> }
  await down(db)
  await locker.query('DELETE FROM kysely_migration WHERE name = $1', [last!.name])
  t.equal(await schemaIsCurrent(db), false)
  t.same(await pendingMigrations(db), [last!.name], 'readiness names it')
  const applying = migrateToLatest(db)
  await someoneWaitsForTheLock(locker) // the migrator, behind the lock we hold (so this is its lock)
  await locker.query(`SELECT pg_advisory_unlock(${KYSELY_LOCK})`)
  t.same(await applying, [last!.name], 'applied once the lock was free')
  t.equal(await schemaIsCurrent(db), true)
})

t.test('a recorded migration that is not on disk is the migrator\'s error, as before', async (t) => {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max: 2 })
  t.teardown(() => db.destroy())
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  await client.query(`INSERT INTO kysely_migration (name, timestamp) VALUES ('2099-01-01T0000_from_a_newer_version', now()::text)`)
  t.equal(await schemaIsCurrent(db), false)
  await t.rejects(migrateToLatest(db), /Migration .*failed: corrupted migrations/)
})

t.test('a database never migrated: no table yet, the migrator creates everything', async (t) => {
  const { url } = await testDatabase(t)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS pgboss CASCADE')
  const db = createDb(url, { max: 2 })
  t.teardown(() => db.destroy())
  t.equal(await schemaIsCurrent(db), false)
  const applied = await migrateToLatest(db)
  t.ok(applied.length >= 2, `${applied.length} migrations applied`)
  t.equal(await schemaIsCurrent(db), true)
  t.same(await migrateToLatest(db), [])
})
