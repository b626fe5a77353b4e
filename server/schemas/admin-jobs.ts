// Every user's processing requests as staff see them: /api/v1/admin/jobs/ (Flower's task list and
// Django admin's request pages). Shared by the routes, the OpenAPI document and the client
// (`import type`): it imports nothing but TypeBox, db/types.ts and other schemas.
import { Type, type Static } from '@sinclair/typebox'
import { REQUEST_STATUSES, type ProcessingRequest } from '../../db/types.ts'
import { PageQuery, PageSchema } from './pagination.ts'
import { RequestStatusSchema, toStatus } from './requests.ts'

const Time = Type.String({ format: 'date-time' })
const NullableTime = Type.Union([Time, Type.Null()])

export const JobOwnerSchema = Type.Object({ pk: Type.Integer(), email: Type.String() })

/** The status object plus its owner and input. */
export const AdminJobSchema = Type.Composite([RequestStatusSchema, Type.Object({
  user: JobOwnerSchema,
  input: Type.Object({}, { additionalProperties: true }),
})])
export type AdminJob = Static<typeof AdminJobSchema>

/** The request's current pg-boss job (its latest attempt); null once pg-boss has deleted it. */
export const QueueJobSchema = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  state: Type.Union(['created', 'retry', 'active', 'completed', 'cancelled', 'failed'].map((s) => Type.Literal(s))),
  retry_count: Type.Integer(),
  retry_limit: Type.Integer(),
  created_on: Time,
  started_on: NullableTime,
  completed_on: NullableTime,
  output: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
})
export type QueueJob = Static<typeof QueueJobSchema>

export const AdminJobResultsSchema = Type.Object({
  data: Type.Any(),
  files: Type.Array(Type.Object({ name: Type.String(), size: Type.Integer(), content_type: Type.String() })),
})

export const AdminJobDetailSchema = Type.Composite([AdminJobSchema, Type.Object({
  queue: Type.Union([QueueJobSchema, Type.Null()]),
  results: Type.Union([AdminJobResultsSchema, Type.Null()]),
})])
export type AdminJobDetail = Static<typeof AdminJobDetailSchema>

export const ADMIN_JOB_ORDERINGS = [
  'created_at', '-created_at', 'started_at', '-started_at', 'finished_at', '-finished_at', 'feature', '-feature', 'status', '-status',
] as const
export type AdminJobOrdering = (typeof ADMIN_JOB_ORDERINGS)[number]

export const AdminJobListQuery = Type.Object({
  ...PageQuery,
  feature: Type.Optional(Type.String()),
  status: Type.Optional(Type.Union(REQUEST_STATUSES.map((s) => Type.Literal(s)))),
  user: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'owner pk' })),
  created_after: Type.Optional(Type.String({ format: 'date-time', description: 'ISO time, inclusive' })),
  created_before: Type.Optional(Type.String({ format: 'date-time', description: 'ISO time, exclusive' })),
  search: Type.Optional(Type.String({ maxLength: 254, description: "start of the id, or part of the owner's e-mail" })),
  ordering: Type.Optional(Type.Union(ADMIN_JOB_ORDERINGS.map((o) => Type.Literal(o)), { description: 'default: -created_at' })),
})
export type AdminJobListQuery = Static<typeof AdminJobListQuery>

export const AdminJobPageSchema = PageSchema(AdminJobSchema)
export type AdminJobPage = Static<typeof AdminJobPageSchema>

export const BULK_ACTIONS = ['retry', 'cancel', 'delete'] as const
export type BulkAction = (typeof BULK_ACTIONS)[number]
export const MAX_BULK_IDS = 500

export const BulkBody = Type.Object({
  action: Type.Union(BULK_ACTIONS.map((a) => Type.Literal(a))),
  ids: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: MAX_BULK_IDS }),
})
export type BulkRequest = Static<typeof BulkBody>

export const BulkItemSchema = Type.Union([
  Type.Object({ id: Type.String(), ok: Type.Literal(true), status: RequestStatusSchema.properties.status }),
  Type.Object({ id: Type.String(), ok: Type.Literal(false), detail: Type.String() }),
])
export type BulkItem = Static<typeof BulkItemSchema>

export const BulkResponseSchema = Type.Object({ action: BulkBody.properties.action, results: Type.Array(BulkItemSchema) })
export type BulkResponse = Static<typeof BulkResponseSchema>

export const JobIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

/** The one mapping from a request row and its owner to the staff list item. */
export function toAdminJob(row: ProcessingRequest, owner: { id: number; email: string }): AdminJob {
  return { ...toStatus(row), user: { pk: owner.id, email: owner.email }, input: row.input }
}
