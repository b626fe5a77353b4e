// The audit log on the wire: /api/v1/admin/audit-log/ (Django admin's "recent actions", for every
// staff write). Shared by the route, the OpenAPI document and the client (`import type`).
import { Type, type Static } from '@sinclair/typebox'
import type { AuditEntry } from '../../db/types.ts'
import { PageQuery, PageSchema } from './pagination.ts'

export const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  /** pk stays as it was when the entry was written, even after the actor's account is deleted. */
  actor: Type.Object({ pk: Type.Union([Type.Integer(), Type.Null()]), email: Type.String() }),
  action: Type.String({ description: 'create, update, delete, set_password, retry, cancel, run_now, …' }),
  object_type: Type.String({ description: 'user, job, schedule, …' }),
  object_id: Type.String(),
  changes: Type.Object({}, { additionalProperties: true, description: 'the fields written (new values); never a secret' }),
})
export type AuditEntryBody = Static<typeof AuditEntrySchema>

export const AuditListQuery = Type.Object({
  ...PageQuery,
  actor: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'actor pk' })),
  action: Type.Optional(Type.String({ maxLength: 64 })),
  object_type: Type.Optional(Type.String({ maxLength: 64 })),
  object_id: Type.Optional(Type.String({ maxLength: 64 })),
})
export type AuditListQuery = Static<typeof AuditListQuery>

export const AuditPageSchema = PageSchema(AuditEntrySchema)
export type AuditPage = Static<typeof AuditPageSchema>

/** The one mapping from an audit row to its shape. */
export function toAuditEntry(e: AuditEntry): AuditEntryBody {
  return {
    id: e.id, at: e.at.toISOString(), actor: { pk: e.actor_id, email: e.actor_email },
    action: e.action, object_type: e.object_type, object_id: e.object_id, changes: e.changes,
  }
}
