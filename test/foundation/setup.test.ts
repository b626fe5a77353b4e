// One-time setup and the superuser from the environment: idempotent, and safe when instances race.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { sql } from 'kysely'
import { createDb } from '../../db/index.ts'
import { runSetup } from '../../seeds/index.ts'
import { upsertSuperuser, findUserByEmail } from '../../server/accounts/users.ts'
import { verifyPassword } from '../../server/accounts/passwords.ts'
import { testConfig, testDatabase } from '../helper.ts'

const quiet = { info() {} }

/** A fixtures folder: one JSON fixture, one slow .ts fixture (widens any race), one dev_ fixture.
 * It lives inside the project (tap's testdir) so that its imports resolve. */
function fixturesDir(t: Test): string {
  const dir = t.testdir({})
  writeFileSync(path.join(dir, '010_flags.json'), JSON.stringify({ table: 'setup_flags', rows: [{ name: 'from-json' }] }))
  const loader = (name: string) => `import { sql } from 'kysely'
export default async function (trx) {
  await sql\`SELECT pg_sleep(0.2)\`.execute(trx)
  await trx.insertInto('users').values({ email: '${name}@example.com', password: 'x' }).execute()
}`
  writeFileSync(path.join(dir, '020_user.ts'), loader('fixture'))
  writeFileSync(path.join(dir, 'dev_030_user.ts'), loader('devonly'))
  return dir
}

async function openDb(t: Test) {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max: 3 })
  t.teardown(() => db.destroy())
  return { url, db }
}

t.test('fixtures load once: a second run skips them', async (t) => {
  const { url, db } = await openDb(t)
  const dir = fixturesDir(t)
  const ctx = { config: testConfig(url), log: quiet }
  t.same(await runSetup(db, ctx, dir), ['010_flags.json', '020_user.ts', 'dev_030_user.ts'])
  t.equal(await runSetup(db, ctx, dir), null, 'second run: skipped')
  const users = await db.selectFrom('users').select('email').orderBy('email').execute()
  t.same(users.map((u) => u.email), ['devonly@example.com', 'fixture@example.com'])
})

t.test('two instances starting together load the fixtures once', async (t) => {
  const { url } = await openDb(t)
  const dir = fixturesDir(t)
  const ctx = { config: testConfig(url), log: quiet }
  const a = createDb(url, { max: 2 })
  const b = createDb(url, { max: 2 })
  t.teardown(async () => { await a.destroy(); await b.destroy() })
  const results = await Promise.all([runSetup(a, ctx, dir), runSetup(b, ctx, dir)])
  t.equal(results.filter((r) => r !== null).length, 1, 'exactly one instance loaded them')
  const { count } = await a.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()
  t.equal(count, 2)
})

t.test('a failing fixture loads nothing and leaves the flag unset', async (t) => {
  const { url, db } = await openDb(t)
  const dir = fixturesDir(t)
  writeFileSync(path.join(dir, '025_broken.json'), JSON.stringify({ rows: [] }))
  const ctx = { config: testConfig(url), log: quiet }
  await t.rejects(runSetup(db, ctx, dir), /025_broken\.json: expected/)
  const flags = await db.selectFrom('setup_flags').select('name').execute()
  t.same(flags, [], 'nothing committed')
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users`.execute(db)
  t.equal(rows[0]!.n, 0)
})

t.test('dev_* fixtures are skipped in production', async (t) => {
  const { url, db } = await openDb(t)
  const dir = fixturesDir(t)
  const config = { ...testConfig(url), env: 'production' as const }
  t.same(await runSetup(db, { config, log: quiet }, dir), ['010_flags.json', '020_user.ts'])
})

t.test('the shipped fixtures load on a fresh database', async (t) => {
  const { url, db } = await openDb(t)
  const loaded = await runSetup(db, { config: testConfig(url), log: quiet })
  t.ok(loaded && loaded.includes('dev_demo_user.ts'))
  t.ok(await findUserByEmail(db, 'demo@example.com'))
})

t.test('the superuser from the environment is created once and updated after', async (t) => {
  const { db } = await openDb(t)
  const first = await upsertSuperuser(db, 'Root@Example.COM', 'first password')
  t.equal(first.created, true)
  t.equal(first.user.email, 'Root@example.com', 'domain lower-cased')
  t.ok(first.user.is_staff && first.user.is_superuser)
  t.match(first.user.password, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'argon2id with OWASP parameters')
  const again = await upsertSuperuser(db, 'root@example.com', 'first password')
  t.equal(again.created, false, 'same e-mail in another case: updated, not duplicated')
  t.equal(again.user.password, first.user.password, 'unchanged password is not rehashed')
  await db.updateTable('users').set({ is_staff: false, is_active: false }).execute()
  const changed = await upsertSuperuser(db, 'root@example.com', 'second password')
  t.ok(changed.user.is_staff && changed.user.is_active, 'flags restored')
  t.ok(await verifyPassword('second password', changed.user.password), 'password updated')
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users`.execute(db)
  t.equal(rows[0]!.n, 1)
})
