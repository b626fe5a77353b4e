// Cron expressions and time zones of schedules: checked when saved, next run computed on read.
// pg-boss evaluates the schedules, so its own parser decides what is valid; we add the rules of
// our contract on top: five fields (pg-boss's resolution is the minute) and an IANA zone.
import type { PgBoss } from 'pg-boss'

/** The error message for a cron expression, or null when it is valid. */
export function cronError(boss: PgBoss, cron: string, timezone: string): string | null {
  const fields = cron.trim().split(/\s+/)
  if (fields.length !== 5) return 'Enter a cron expression of five fields: minute hour day-of-month month day-of-week.'
  try {
    boss.previewSchedule(cron.trim(), { tz: isTimezone(timezone) ? timezone : 'UTC', count: 1 })
    return null
  } catch (err) {
    return `Invalid cron expression: ${(err as Error).message}`
  }
}

export function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return tz.length > 0
  } catch {
    return false
  }
}

/** When the expression next fires after now, in UTC; null if it never does. */
export function nextRunAt(boss: PgBoss, cron: string, timezone: string, from = new Date()): Date | null {
  try {
    return boss.previewSchedule(cron, { tz: timezone, from, count: 1 })[0] ?? null
  } catch {
    return null
  }
}
