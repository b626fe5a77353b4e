// The one mapping from a schedule row to the API's shape.
import type { PgBoss } from 'pg-boss'
import type { Schedule } from '../../db/types.ts'
import { nextRunAt } from '../../worker/index.ts'
import type { ScheduleResponse } from '../schemas/schedules.ts'

/** The one mapping from a row to the API's shape (next run computed with pg-boss's own parser). */
export function toScheduleResponse(boss: PgBoss, s: Schedule): ScheduleResponse {
  const next = s.enabled ? nextRunAt(boss, s.cron, s.timezone) : null
  return {
    id: s.id,
    name: s.name,
    feature: s.feature,
    cron: s.cron,
    timezone: s.timezone,
    input: s.input,
    enabled: s.enabled,
    description: s.description,
    owner: s.owner_id,
    last_run_at: s.last_run_at?.toISOString() ?? null,
    next_run_at: next?.toISOString() ?? null,
    total_run_count: s.total_run_count,
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
  }
}
