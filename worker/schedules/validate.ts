// The checks a schedule passes when saved, beyond its JSON shape: a known feature that can run
// without an upload, a valid cron expression and time zone, an input the feature accepts, an
// existing owner, a unique name. Every problem is reported at once, each on its field.
import type { PgBoss } from 'pg-boss'
import type { Executor } from '../../db/index.ts'
import { findUserById } from '../../db/repositories/users.ts'
import { InputError } from '../errors.ts'
import { getFeature } from '../features/registry.ts'
import { validateInput } from '../requests/input.ts'
import { cronError, isTimezone } from './cron.ts'
import type { ScheduleFields } from './repository.ts'

/** Field errors, or the fields ready to save (input normalised as create/ would: defaults applied,
 * unknown fields dropped, so a schedule shows exactly what its runs receive). */
export async function checkSchedule(db: Executor, boss: PgBoss, f: ScheduleFields, id?: string):
  Promise<{ errors: Record<string, unknown> } | { errors: null; fields: ScheduleFields }> {
  const errors: Record<string, unknown> = {}
  let input = f.input
  const feature = getFeature(f.feature)
  if (!feature) errors.feature = [`"${f.feature}" is not a valid choice.`]
  else if (feature.file?.required) errors.feature = [`"${f.feature}" needs an uploaded file and cannot be scheduled.`]
  if (!isTimezone(f.timezone)) errors.timezone = [`"${f.timezone}" is not a valid IANA time zone.`]
  const cron = cronError(boss, f.cron, f.timezone)
  if (cron) errors.cron = [cron]
  if (feature && !feature.file?.required) {
    // The very validation create/ applies, so a saved schedule's ticks pass it too.
    try {
      input = validateInput(feature, f.input)
    } catch (err) {
      if (!(err instanceof InputError)) throw err
      errors.input = err.fields
    }
  }
  if (!(await findUserById(db, f.owner_id))) errors.owner = [`Invalid pk "${f.owner_id}" - object does not exist.`]
  const clash = await db.selectFrom('schedules').select('id').where('name', '=', f.name).executeTakeFirst()
  if (clash && clash.id !== id) errors.name = ['schedule with this name already exists.']
  return Object.keys(errors).length > 0 ? { errors } : { errors: null, fields: { ...f, input } }
}
