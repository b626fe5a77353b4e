// Applies db/migrations with Kysely's migrator (it serialises concurrent runs with its own lock).
//
// Every start and every /readyz asks whether the schema is current. When it is, as on all but the
// first start of a version, that is answered from the folder's file names and one read of Kysely's
// migration table, without the migrator: the migrator creates its tables if missing, takes its lock
// and imports every migration module (~60 ms of a start, measured). Anything else — a missing
// table, a migration not applied, one applied that is not on disk — goes to the migrator, which
// applies or reports it as before.
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { sql, type Kysely } from 'kysely'
import { DEFAULT_MIGRATION_TABLE, FileMigrationProvider, Migrator, type MigrationResult } from 'kysely/migration'

export const migrationFolder = path.join(import.meta.dirname, 'migrations')

export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder }) })
}

// The files FileMigrationProvider loads (its own rule), named as it names them: without the extension.
const MIGRATION_FILE = /^(?!.*\.d\.[cm]?ts$).*\.(?:[cm]?js|[cm]?ts)$/

// The folder ships with the code: read once per process, not on every /readyz.
let onDisk: Promise<string[]> | null = null
const migrationsOnDisk = () => (onDisk ??= fs.readdir(migrationFolder)
  .then((files) => files.filter((f) => MIGRATION_FILE.test(f)).map((f) => f.slice(0, f.lastIndexOf('.'))))
  .catch((err: unknown) => { onDisk = null; throw err }))

/** True when exactly the migrations on disk are recorded as applied. */
export async function schemaIsCurrent(db: Kysely<any>): Promise<boolean> {
  const [names, applied] = await Promise.all([
    migrationsOnDisk(),
    sql<{ name: string }>`SELECT name FROM ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(db).then((r) => r.rows.map((row) => row.name), () => null),
  ])
  if (!applied) return false // no migration table yet (or it cannot be read): the migrator decides
  const recorded = new Set(applied)
  return names.length === recorded.size && names.every((name) => recorded.has(name))
}

/** Migrates to the latest version; returns the names applied now, throws on failure. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  if (await schemaIsCurrent(db)) return []
  const { error, results } = await createMigrator(db).migrateToLatest()
  if (error) {
    const failed = results?.find((r: MigrationResult) => r.status === 'Error')
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(`Migration ${failed ? `"${failed.migrationName}" ` : ''}failed: ${reason}`, { cause: error })
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Names of migrations on disk that the database has not applied yet. */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  if (await schemaIsCurrent(db)) return []
  const all = await createMigrator(db).getMigrations()
  return all.filter((m) => !m.executedAt).map((m) => m.name)
}
