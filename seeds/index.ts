// One-time setup (the original's SetupFlag): the fixtures in seeds/ are loaded once per database,
// in the same transaction that sets the flag, under an advisory lock so that instances starting
// together load them once. Files named dev_* are skipped in production.
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { sql, type Transaction } from 'kysely'
import type { Db } from '../db/index.ts'
import type { Database } from '../db/types.ts'
import type { Config } from '../server/config.ts'

export const seedsDir = import.meta.dirname
export const SETUP_FLAG = 'fixtures'
// Arbitrary, fixed: the key every instance locks on while it checks and loads the fixtures.
const SETUP_LOCK_KEY = 7_310_402_611

export interface SeedContext {
  config: Config
  log: { info(msg: string): void }
}

/** A `.ts` fixture exports a default loader; a `.json` fixture is `{ "table", "rows" }`. */
export type SeedLoader = (trx: Transaction<Database>, ctx: SeedContext) => Promise<void>

interface JsonFixture {
  table: keyof Database
  rows: Record<string, unknown>[]
}

export async function listFixtures(dir: string, production: boolean): Promise<string[]> {
  // `.ts` from source, `.js` when compiled (dist/seeds)
  const names = (await fs.readdir(dir)).filter((f) => /\.(json|ts|js)$/.test(f) && !/\.d\.ts$|\.test\.[jt]s$|^index\.[jt]s$/.test(f))
  return names.filter((f) => !(production && f.startsWith('dev_'))).sort()
}

async function loadFixture(trx: Transaction<Database>, file: string, ctx: SeedContext): Promise<void> {
  if (file.endsWith('.json')) {
    const fixture = JSON.parse(await fs.readFile(file, 'utf8')) as JsonFixture
    if (!fixture.table || !Array.isArray(fixture.rows)) throw new Error(`${path.basename(file)}: expected {"table": ..., "rows": [...]}`)
    if (fixture.rows.length > 0) await trx.insertInto(fixture.table).values(fixture.rows as any).onConflict((oc) => oc.doNothing()).execute()
    return
  }
  const mod = (await import(pathToFileURL(file).href)) as { default?: SeedLoader }
  if (typeof mod.default !== 'function') throw new Error(`${path.basename(file)}: must export a default loader function`)
  await mod.default(trx, ctx)
}

/** Loads the fixtures unless the setup flag is set. Returns the files loaded, or null if skipped. */
export async function runSetup(db: Db, ctx: SeedContext, dir = seedsDir): Promise<string[] | null> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${SETUP_LOCK_KEY})`.execute(trx)
    const done = await trx.selectFrom('setup_flags').select('done_at').where('name', '=', SETUP_FLAG).executeTakeFirst()
    if (done) {
      ctx.log.info(`One-time setup already done on ${done.done_at.toISOString()}: fixtures skipped`)
      return null
    }
    const files = await listFixtures(dir, ctx.config.env === 'production')
    for (const f of files) {
      await loadFixture(trx, path.join(dir, f), ctx)
      ctx.log.info(`Loaded fixture ${f}`)
    }
    await trx.insertInto('setup_flags').values({ name: SETUP_FLAG }).execute()
    return files
  })
}
