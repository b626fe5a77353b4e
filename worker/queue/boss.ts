// pg-boss, the queue and cron scheduler, as Conveyor runs it: one schema, settings in one place.
import { PgBoss } from 'pg-boss'

export const BOSS_SCHEMA = 'pgboss'

export interface BossSettings {
  /** The app's pool size; pg-boss gets half of it (at least 4). */
  databasePoolSize: number
  /** How often an instance looks for due cron ticks (pg-boss's cronMonitorIntervalSeconds). */
  schedulerIntervalSeconds?: number
}

export function createBoss(databaseUrl: string, settings: BossSettings): PgBoss {
  const cron = settings.schedulerIntervalSeconds ?? 30
  return new PgBoss({
    connectionString: databaseUrl,
    schema: BOSS_SCHEMA,
    application_name: 'conveyor-boss',
    max: Math.max(4, Math.ceil(settings.databasePoolSize / 2)),
    // Wake workers on other instances the moment a job is sent (one extra connection).
    useListenNotify: true,
    // Cron: how often an instance looks for due ticks, and how soon a due tick becomes a job.
    cronMonitorIntervalSeconds: cron,
    cronWorkerIntervalSeconds: Math.min(5, cron),
  })
}
