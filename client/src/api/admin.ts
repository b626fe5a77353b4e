// The staff API (/api/v1/admin/): users, every user's jobs, schedules and the audit log. The shapes
// are the server's TypeBox modules, imported as types only.
import type { AdminJob, AdminJobDetail, BulkAction, BulkItem, BulkResponse, QueueJob } from '../../../server/schemas/admin-jobs.ts'
import type { AdminUser, AdminUserCreate, AdminUserUpdate } from '../../../server/schemas/admin-users.ts'
import type { AuditEntryBody } from '../../../server/schemas/audit.ts'
import type { Page } from '../../../server/schemas/pagination.ts'
import type { ScheduleInput, SchedulePatch, ScheduleResponse } from '../../../server/schemas/schedules.ts'
import { getJson, postJson, request } from './http.ts'
import type { JobStatus } from './jobs.ts'

export type { Page }

/** Query parameters of a list request; empty values are left out. */
export type ListParams = Record<string, string | number | undefined>

function listPath(path: string, params: ListParams): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `${path}?${s}` : path
}

const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body)
const remove = (path: string) => request<void>('DELETE', path)
type Detail = { detail: string }

// Users ------------------------------------------------------------------------------------------

export type { AdminUser }
export type NewUser = AdminUserCreate
export type UserChange = AdminUserUpdate

export const listUsers = (params: ListParams) => getJson<Page<AdminUser>>(listPath('admin/users/', params))
export const getUser = (pk: number) => getJson<AdminUser>(`admin/users/${pk}/`)
export const createUser = (body: NewUser) => postJson<AdminUser>('admin/users/', body)
export const updateUser = (pk: number, change: UserChange) => patch<AdminUser>(`admin/users/${pk}/`, change)
export const deleteUser = (pk: number) => remove(`admin/users/${pk}/`)
export const setPassword = (pk: number, password: string) => postJson<Detail>(`admin/users/${pk}/set-password/`, { password })

// Jobs -------------------------------------------------------------------------------------------

export type { AdminJob, AdminJobDetail, BulkAction }
export type QueueState = QueueJob
export type BulkResult = BulkItem
export type BulkAnswer = BulkResponse

export const listAdminJobs = (params: ListParams) => getJson<Page<AdminJob>>(listPath('admin/jobs/', params))
export const getAdminJob = (id: string) => getJson<AdminJobDetail>(`admin/jobs/${id}/`)
export const retryJob = (id: string) => postJson<JobStatus>(`admin/jobs/${id}/retry/`)
export const cancelAdminJob = (id: string) => postJson<JobStatus>(`admin/jobs/${id}/cancel/`)
export const bulkJobs = (action: BulkAction, ids: string[]) => postJson<BulkAnswer>('admin/jobs/bulk/', { action, ids })

// Schedules --------------------------------------------------------------------------------------

export type Schedule = ScheduleResponse
export type { ScheduleInput, SchedulePatch }

export const listSchedules = (params: ListParams) => getJson<Page<Schedule>>(listPath('admin/schedules/', params))
export const createSchedule = (body: ScheduleInput) => postJson<Schedule>('admin/schedules/', body)
export const updateSchedule = (id: string, change: SchedulePatch) => patch<Schedule>(`admin/schedules/${id}/`, change)
export const deleteSchedule = (id: string) => remove(`admin/schedules/${id}/`)
export const runSchedule = (id: string) => postJson<JobStatus>(`admin/schedules/${id}/run-now/`)

// Audit log --------------------------------------------------------------------------------------

export type AuditEntry = AuditEntryBody

export const listAudit = (params: ListParams) => getJson<Page<AuditEntry>>(listPath('admin/audit-log/', params))
