// The long-lived services the app and the job engine share: database pool and pg-boss.
import { PgBoss } from 'pg-boss'
import { createDb, type Db } from '../db/index.ts'
import type { Config } from './config.ts'
import type { Logger } from './logger.ts'

export interface Services {
  config: Config
  /** The database actually used (the configured one, or the embedded one's). */
  databaseUrl: string
  log: Logger
  db: Db
  boss: PgBoss
  /** Stops pg-boss (workers first, gracefully) and closes the pool. Idempotent. */
  close(): Promise<void>
}

export const BOSS_SCHEMA = 'pgboss'

export function createBoss(databaseUrl: string, config: Pick<Config, 'databasePoolSize'> & Partial<Pick<Config, 'schedulerIntervalSeconds'>>): PgBoss {
  const cron = config.schedulerIntervalSeconds ?? 30
  return new PgBoss({
    connectionString: databaseUrl,
    schema: BOSS_SCHEMA,
    application_name: 'conveyor-boss',
    max: Math.max(4, Math.ceil(config.databasePoolSize / 2)),
    // Wake workers on other instances the moment a job is sent (one extra connection).
    useListenNotify: true,
    // Cron: how often an instance looks for due ticks, and how soon a due tick becomes a job.
    cronMonitorIntervalSeconds: cron,
    cronWorkerIntervalSeconds: Math.min(5, cron),
  })
}

export async function openServices(config: Config, log: Logger, databaseUrl: string): Promise<Services> {
  const db = createDb(databaseUrl, { max: config.databasePoolSize, applicationName: `conveyor-${config.role}` })
  const boss = createBoss(databaseUrl, config)
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'))
  try {
    await boss.start()
  } catch (err) {
    await db.destroy()
    throw err
  }
  let closing: Promise<void> | undefined
  return {
    config, databaseUrl, log, db, boss,
    close() {
      closing ??= (async () => {
        await boss.stop({ graceful: true, timeout: config.shutdownGraceSeconds * 1000 }).catch((err) => log.error({ err }, 'pg-boss stop failed'))
        await db.destroy()
      })()
      return closing
    },
  }
}
