// Monitoring on the wire (GET /api/v1/admin/monitoring/ and the queue controls): shared by the
// routes, the OpenAPI document, the tests and the client (which imports types only).
import { Type, type Static } from '@sinclair/typebox'

const Count = Type.Integer({ minimum: 0 })

export const FeatureMonitoringSchema = Type.Object({
  name: Type.String(),
  queued: Type.Integer({ minimum: 0, description: 'pending and runnable now (a paused feature\'s included)' }),
  active: Type.Integer({ minimum: 0, description: 'processing' }),
  delayed: Type.Integer({ minimum: 0, description: 'pending, waiting for a retry delay' }),
  completed_last_hour: Count,
  failed_last_hour: Count,
  paused: Type.Boolean(),
  concurrency: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'most attempts processing at once across all instances; null: no limit beyond the threads' }),
})
export type FeatureMonitoring = Static<typeof FeatureMonitoringSchema>

export const InstanceSchema = Type.Object({
  id: Type.String(),
  role: Type.String(),
  threads: Count,
  busy: Count,
  started_at: Type.String({ format: 'date-time' }),
  last_seen_at: Type.String({ format: 'date-time' }),
})
export type InstanceBody = Static<typeof InstanceSchema>

export const MonitoringSchema = Type.Object({
  features: Type.Array(FeatureMonitoringSchema),
  threads: Type.Object({ size: Count, busy: Count }, { description: 'sums over the live instances' }),
  instances: Type.Array(InstanceSchema),
  throughput: Type.Array(Type.Object({ minute: Type.String({ format: 'date-time' }), completed: Count, failed: Count }),
    { description: 'the last 60 minutes, oldest first' }),
  oldest_waiting_seconds: Type.Number({ minimum: 0, description: 'age of the oldest runnable pending request (0: none)' }),
})
export type Monitoring = Static<typeof MonitoringSchema>

export const FeatureParams = Type.Object({ name: Type.String() })

export const FeaturePatchSchema = Type.Object({
  concurrency: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()])),
})
export type FeaturePatch = Static<typeof FeaturePatchSchema>
