// The long-lived services the app and the job engine share: database pool and pg-boss.
import type { PgBoss } from 'pg-boss'
import { createDb, type Db } from '../db/index.ts'
import { createBoss } from '../worker/index.ts'
import type { Config } from './config.ts'
import { createMetrics, type InstanceMetrics } from './plugins/metrics.ts'
import type { Logger } from './logger.ts'

export interface Services {
  config: Config
  /** The database actually used (the configured one, or the embedded one's). */
  databaseUrl: string
  log: Logger
  db: Db
  boss: PgBoss
  /** This instance's metrics registry, shared by its app and its engine (never by another instance). */
  metrics: InstanceMetrics
  /** Stops pg-boss (workers first, gracefully) and closes the pool. Idempotent. */
  close(): Promise<void>
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
    config, databaseUrl, log, db, boss, metrics: createMetrics(),
    close() {
      closing ??= (async () => {
        await boss.stop({ graceful: true, timeout: config.shutdownGraceSeconds * 1000 }).catch((err) => log.error({ err }, 'pg-boss stop failed'))
        await db.destroy()
      })()
      return closing
    },
  }
}
