// Table types for Kysely, written by hand in the style of Kysely's own example.
// One interface per table; `Database` lists them. Other areas add their tables here.
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

type CreatedAt = ColumnType<Date, Date | string | undefined, never>
type Timestamp = ColumnType<Date, Date | string, Date | string>
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
type Json<T = unknown> = ColumnType<T, string, string>

export interface SetupFlagTable {
  name: string
  done_at: CreatedAt
}

export interface UserTable {
  id: Generated<number>
  email: string
  name: Generated<string>
  password: string
  is_active: Generated<boolean>
  is_staff: Generated<boolean>
  is_superuser: Generated<boolean>
  email_verified: Generated<boolean>
  date_joined: CreatedAt
  last_login: NullableTimestamp
}

export interface SessionTable {
  id: string
  user_id: number
  created_at: CreatedAt
  expires_at: Timestamp
  ip: string | null
  user_agent: string | null
}

export interface AuthThrottleTable {
  key: string
  window_start: Timestamp
  hits: Generated<number>
  expires_at: Timestamp
}

export const REQUEST_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const
export type RequestStatus = (typeof REQUEST_STATUSES)[number]
export interface UploadInfo { name: string; size: number; content_type: string }
export interface OutputFileInfo { name: string; size: number; content_type: string }

export interface ProcessingRequestTable {
  id: Generated<string>
  owner_id: number
  feature: string
  input: Json<Record<string, unknown>>
  upload: ColumnType<UploadInfo | null, string | null | undefined, string | null>
  status: ColumnType<RequestStatus, RequestStatus | undefined, RequestStatus>
  progress: Generated<number>
  attempts: Generated<number>
  error_message: string | null
  job_id: string | null
  schedule_id: string | null
  idempotency_key: string | null
  created_at: CreatedAt
  started_at: NullableTimestamp
  finished_at: NullableTimestamp
}

export interface ProcessingResultTable {
  request_id: string
  data: Json<unknown>
  files: ColumnType<OutputFileInfo[], string | undefined, string>
  created_at: CreatedAt
}

export interface ScheduleTable {
  id: Generated<string>
  name: string
  feature: string
  cron: string
  timezone: Generated<string>
  input: Json<Record<string, unknown>>
  enabled: Generated<boolean>
  description: Generated<string>
  owner_id: number
  last_run_at: NullableTimestamp
  total_run_count: Generated<number>
  created_at: CreatedAt
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface SocialAccountTable {
  id: Generated<number>
  user_id: number
  provider: string
  subject: string
  email: string | null
  date_joined: CreatedAt
  last_login: NullableTimestamp
}

export interface AuditLogTable {
  id: ColumnType<number, never, never>
  at: CreatedAt
  /** No foreign key: an entry outlives its actor (the e-mail is kept with it). */
  actor_id: number | null
  actor_email: string
  action: string
  object_type: string
  object_id: string
  changes: Json<Record<string, unknown>>
}

export interface FeatureSettingsTable {
  feature: string
  paused: Generated<boolean>
  concurrency: number | null
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface InstanceTable {
  id: string
  role: string
  threads: number
  busy: number
  started_at: CreatedAt
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export type LogLevel = 'info' | 'warn' | 'error'

export interface JobLogTable {
  request_id: string
  attempt: number
  /** 1, 2, … per attempt; 0 is the marker line saying how many earlier lines were dropped. */
  seq: number
  at: Timestamp
  level: LogLevel
  message: string
}

export interface Database {
  setup_flags: SetupFlagTable
  users: UserTable
  sessions: SessionTable
  // accounts tables (issue 3) go here
  auth_throttles: AuthThrottleTable
  // job engine tables (issue 4) go here
  processing_requests: ProcessingRequestTable
  processing_results: ProcessingResultTable
  schedules: ScheduleTable
  // social login (issue 15)
  social_accounts: SocialAccountTable
  // administration (issue 9)
  audit_log: AuditLogTable
  // monitoring (issue 10)
  feature_settings: FeatureSettingsTable
  instances: InstanceTable
  job_logs: JobLogTable
}

export type User = Selectable<UserTable>
export type NewUser = Insertable<UserTable>
export type UserUpdate = Updateable<UserTable>
export type Session = Selectable<SessionTable>
export type Schedule = Selectable<ScheduleTable>
export type SocialAccount = Selectable<SocialAccountTable>
export type ProcessingRequest = Selectable<ProcessingRequestTable>
export type ProcessingResult = Selectable<ProcessingResultTable>
export type AuditEntry = Selectable<AuditLogTable>
export type { Json }

/** The fields of a row that the status shape needs; times as Date (row) or ISO text (NOTIFY payload). */
export interface StatusFields {
  id: string
  feature: string
  status: RequestStatus
  progress: number
  error_message: string | null
  attempts: number
  schedule_id: string | null
  created_at: Date | string
  started_at: Date | string | null
  finished_at: Date | string | null
}
