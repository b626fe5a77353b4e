// Test databases: one migrated template per run, and a fresh clone of it for each app a test builds.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { createDb } from '../../db/index.ts'
import { migrateToLatest } from '../../db/migrate.ts'
import { createBoss } from '../../worker/index.ts'

export function withDatabase(adminUrl: string, name: string): string {
  const u = new URL(adminUrl)
  u.pathname = `/${name}`
  return u.toString()
}

export async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

/** Creates the template: our migrations plus pg-boss's schema, so clones start ready. */
export async function createTemplate(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}"`)
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`)
  const url = withDatabase(adminUrl, name)
  const db = createDb(url, { max: 2 })
  try {
    await migrateToLatest(db)
  } finally {
    await db.destroy()
  }
  const boss = createBoss(url, { databasePoolSize: 4 })
  boss.on('error', () => {})
  await boss.start()
  await boss.stop({ graceful: false, close: true })
}

/** A new database cloned from the template; retried while another clone holds the template. */
export async function cloneTemplate(adminUrl: string, template: string): Promise<{ name: string; url: string }> {
  const name = `conveyor_t_${randomBytes(6).toString('hex')}`
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(adminUrl, `CREATE DATABASE "${name}" TEMPLATE "${template}"`)
      return { name, url: withDatabase(adminUrl, name) }
    } catch (err) {
      if (attempt >= 50 || !/being accessed by other users/.test((err as Error).message)) throw err
      await sleep(50 + Math.random() * 100)
    }
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
}
