// Schedules on the wire: shared by the routes, the OpenAPI document, the tests and the client
// (which imports types only: this module imports nothing but TypeBox and other schemas).
import { Type, type Static } from '@sinclair/typebox'
import { PageQuery, PageSchema } from './pagination.ts'

const Name = Type.String({ minLength: 1, maxLength: 200 })
const Cron = Type.String({ minLength: 1, maxLength: 200, description: 'five fields: minute hour day-of-month month day-of-week' })
const Timezone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Berlin' })

export const ScheduleInputSchema = Type.Object({
  name: Name,
  feature: Type.String({ minLength: 1 }),
  cron: Cron,
  timezone: Type.Optional(Timezone),
  input: Type.Optional(Type.Object({}, { additionalProperties: true })),
  enabled: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  owner: Type.Optional(Type.Integer({ minimum: 1, description: 'user pk the created requests belong to (default: you)' })),
})
export type ScheduleInput = Static<typeof ScheduleInputSchema>

export const SchedulePatchSchema = Type.Partial(ScheduleInputSchema)
export type SchedulePatch = Static<typeof SchedulePatchSchema>

export const ScheduleSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  feature: Type.String(),
  cron: Type.String(),
  timezone: Type.String(),
  input: Type.Object({}, { additionalProperties: true }),
  enabled: Type.Boolean(),
  description: Type.String(),
  owner: Type.Integer(),
  last_run_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  next_run_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  total_run_count: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})
export type ScheduleResponse = Static<typeof ScheduleSchema>

export const ScheduleIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const ScheduleListQuery = Type.Object({
  ...PageQuery,
  enabled: Type.Optional(Type.Boolean()),
  feature: Type.Optional(Type.String()),
  search: Type.Optional(Type.String()),
})

export const SchedulePageSchema = PageSchema(ScheduleSchema)
