// clear-expired-sessions (system): deletes expired sessions and finished rate-limit windows.
// Run hourly by a built-in schedule; idempotent, so a retry or a second run changes nothing.
import { Type } from '@sinclair/typebox'
import { defineFeature, JobError } from './api.ts'
import { deleteExpiredAuthData, type AuthCleanup } from '../../db/repositories/auth-cleanup.ts'

export default defineFeature({
  name: 'clear-expired-sessions',
  title: 'Clear expired sessions',
  description: 'Maintenance: deletes expired sessions (API keys) and finished rate-limit counters.',
  system: true,
  input: Type.Object({}),
  timeLimitSeconds: 600,
  retry: { limit: 2, delaySeconds: 60, backoff: true },
  validate(_input, ctx) {
    if (!ctx.db) throw new JobError('This maintenance task needs the database.')
    return ctx.db
  },
  async process(db, ctx): Promise<AuthCleanup> {
    const removed = await deleteExpiredAuthData(db)
    ctx.progress(100)
    return removed
  },
  save: (removed) => ({ data: { deleted_sessions: removed.sessions, deleted_throttle_counters: removed.throttles } }),
})
