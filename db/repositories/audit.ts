// The audit log: every staff write calls `recordAudit` with the transaction of its change, so an entry
// exists exactly when its change committed. Reads for the staff API's audit-log/.
import type { Transaction } from 'kysely'
import type { Executor } from '../index.ts'
import type { AuditEntry, Database } from '../types.ts'

/** Who did it: the signed-in staff member (request.user has both fields). */
export interface AuditActor { id: number; email: string }

export interface NewAuditEntry {
  actor: AuditActor
  /** What was done: `create`, `update`, `delete`, `set_password`, `retry`, `cancel`, `run_now`, `pause`… */
  action: string
  /** What it was done to: `user`, `job`, `schedule`, `feature`… */
  objectType: string
  objectId: string | number
  /** The fields written (new values). Secrets are dropped here whatever the caller passes. */
  changes?: Record<string, unknown>
}

// A field whose name says it holds a secret never reaches the log, at any depth.
const SECRET = /pass(word|wd)|token|secret|hash|api_?key|^key$/i

export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets)
  if (value instanceof Date) return value.toISOString()
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => !SECRET.test(k)).map(([k, v]) => [k, withoutSecrets(v)]))
  }
  return value
}

/**
 * Records one staff write. Takes a transaction, not the pool, on purpose: the entry commits or rolls
 * back with the change it describes.
 */
export async function recordAudit(trx: Transaction<Database>, entry: NewAuditEntry): Promise<void> {
  await trx.insertInto('audit_log').values({
    actor_id: entry.actor.id,
    actor_email: entry.actor.email,
    action: entry.action,
    object_type: entry.objectType,
    object_id: String(entry.objectId),
    changes: JSON.stringify(withoutSecrets(entry.changes ?? {})),
  }).execute()
}

export interface AuditFilter {
  actor?: number
  action?: string
  objectType?: string
  objectId?: string
}

function filtered(db: Executor, f: AuditFilter) {
  let q = db.selectFrom('audit_log')
  if (f.actor !== undefined) q = q.where('actor_id', '=', f.actor)
  if (f.action) q = q.where('action', '=', f.action)
  if (f.objectType) q = q.where('object_type', '=', f.objectType)
  if (f.objectId) q = q.where('object_id', '=', f.objectId)
  return q
}

export async function countAudit(db: Executor, f: AuditFilter): Promise<number> {
  const { n } = await filtered(db, f).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return n
}

/** Newest first (the identity column orders entries as they were written). */
export function listAudit(db: Executor, f: AuditFilter, page: { limit: number; offset: number }): Promise<AuditEntry[]> {
  return filtered(db, f).selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute()
}
