// Schedules: data access (the API's shape is made in server/schemas/schedules.ts).
import type { Executor } from '../../db/index.ts'
import type { Schedule } from '../../db/types.ts'

export interface ScheduleFields {
  name: string
  feature: string
  cron: string
  timezone: string
  input: Record<string, unknown>
  enabled: boolean
  description: string
  owner_id: number
}

export function findSchedule(db: Executor, id: string): Promise<Schedule | undefined> {
  return db.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst()
}

export function findScheduleByName(db: Executor, name: string): Promise<Schedule | undefined> {
  return db.selectFrom('schedules').selectAll().where('name', '=', name).executeTakeFirst()
}

export function insertSchedule(db: Executor, f: ScheduleFields): Promise<Schedule> {
  return db.insertInto('schedules').values({ ...f, input: JSON.stringify(f.input) }).returningAll().executeTakeFirstOrThrow()
}

export function updateSchedule(db: Executor, id: string, f: Partial<ScheduleFields>): Promise<Schedule | undefined> {
  const { input, ...rest } = f
  return db.updateTable('schedules')
    .set({ ...rest, ...(input ? { input: JSON.stringify(input) } : {}), updated_at: new Date() })
    .where('id', '=', id).returningAll().executeTakeFirst()
}

export async function deleteSchedule(db: Executor, id: string): Promise<boolean> {
  const r = await db.deleteFrom('schedules').where('id', '=', id).executeTakeFirst()
  return Number(r.numDeletedRows) > 0
}
