// Processing requests on the wire: the status object, the created answer and results — the one
// source of these shapes for the routes, the OpenAPI document and the client (`import type`).
import { Type, type Static } from '@sinclair/typebox'
import { REQUEST_STATUSES as STATUSES, type RequestStatus, type StatusFields } from '../../db/types.ts'

// The status object is the most frequent response (clients poll it; a list page holds up to 100),
// so its nullable strings are a type list and its status an enum, not anyOf unions: fast-json-stringify
// writes a type list or an enum after a typeof check, but an anyOf by running ajv on each branch in
// turn, on every response: a date-time regex per timestamp, a `const` check per status until one
// matched (1.3 % of the status GET's CPU in a profile, and that for each item of a list page).
// The OpenAPI document is the same either way (`type: string, nullable: true`: @fastify/swagger
// writes both so).
const Nullable = (format?: 'uuid' | 'date-time') =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], ...(format ? { format } : {}) })
const Time = Type.String({ format: 'date-time' })

export const RequestStatusSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  feature: Type.String(),
  status: Type.Unsafe<RequestStatus>({ type: 'string', enum: [...STATUSES] }),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  error_message: Nullable(),
  attempts: Type.Integer(),
  schedule_id: Nullable('uuid'),
  created_at: Time,
  started_at: Nullable('date-time'),
  finished_at: Nullable('date-time'),
})
export type RequestStatusBody = Static<typeof RequestStatusSchema>

export const StatusFilter = Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s))))

export const CreatedSchema = Type.Pick(RequestStatusSchema, ['id', 'feature', 'status', 'created_at'])
export type Created = Static<typeof CreatedSchema>

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const OutputFileSchema = Type.Object({ name: Type.String(), size: Type.Integer(), content_type: Type.String(), url: Type.String() })
export type OutputFile = Static<typeof OutputFileSchema>

export const ResultsSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Type.String(),
  data: Type.Any(),
  files: Type.Array(OutputFileSchema),
})
export type Results = Static<typeof ResultsSchema>

const iso = (t: Date | string | null): string | null => (t === null ? null : (t instanceof Date ? t : new Date(t)).toISOString())

/** The one mapping from a row (or a NOTIFY payload, which has the same fields) to the status shape. */
export function toStatus(row: StatusFields): RequestStatusBody {
  return {
    id: row.id, feature: row.feature, status: row.status, progress: row.progress, error_message: row.error_message,
    attempts: row.attempts, schedule_id: row.schedule_id,
    created_at: iso(row.created_at)!, started_at: iso(row.started_at), finished_at: iso(row.finished_at),
  }
}

export function toCreated(row: StatusFields): Created {
  return { id: row.id, feature: row.feature, status: row.status, created_at: iso(row.created_at)! }
}
