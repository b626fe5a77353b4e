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

export interface Database {
  setup_flags: SetupFlagTable
  users: UserTable
  sessions: SessionTable
  // accounts tables (issue 3) go here
  // job engine tables (issue 4) go here
  // schedules tables (issue 5) go here
}

export type User = Selectable<UserTable>
export type NewUser = Insertable<UserTable>
export type UserUpdate = Updateable<UserTable>
export type Session = Selectable<SessionTable>
export type { Json }
