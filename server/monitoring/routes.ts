// Staff monitoring, what Flower gave operators: /api/v1/admin/monitoring/ (queue depths, instances and
// their threads, the last hour's throughput) and the queue controls on features/<name>/ (pause,
// resume, concurrency limit), which every instance's engine honours from the moment they commit.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import {
  monitoringOverview, setFeatureConcurrency, setFeaturePaused, type FeatureSettings, type Overview,
} from '../../worker/index.ts'
import type { Executor } from '../../db/index.ts'
import { recordAudit } from '../../db/repositories/audit.ts'
import { actorOf } from '../http/actor.ts'
import { notFound } from '../http/errors.ts'
import { FeatureParams, FeaturePatchSchema, FeatureMonitoringSchema, MonitoringSchema, type Monitoring } from '../schemas/monitoring.ts'

const iso = (d: Date) => d.toISOString()

export function toMonitoring(o: Overview): Monitoring {
  return {
    features: o.features,
    threads: o.threads,
    instances: o.instances.map((i) => ({ ...i, started_at: iso(i.started_at), last_seen_at: iso(i.last_seen_at) })),
    throughput: o.throughput.map((t) => ({ ...t, minute: iso(t.minute) })),
    oldest_waiting_seconds: o.oldest_waiting_seconds,
  }
}

const monitoringRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const names = () => app.features.map((f) => f.name)
  app.addHook('onRequest', app.requireStaff)

  app.get('/api/v1/admin/monitoring/', {
    schema: { tags: ['admin: monitoring'], summary: 'Queues, instances and throughput of the last hour', response: { 200: MonitoringSchema } },
  }, async () => toMonitoring(await monitoringOverview(db, names())))

  /**
   * The feature's monitoring entry once `change` committed, with its audit entry in the same
   * transaction; 404 for a feature this instance does not serve.
   */
  async function control(request: FastifyRequest, name: string, action: string, changes: Record<string, unknown>,
    change: (trx: Executor) => Promise<FeatureSettings>) {
    if (!names().includes(name)) throw notFound()
    await db.transaction().execute(async (trx) => {
      await change(trx)
      await recordAudit(trx, { actor: actorOf(request), action, objectType: 'feature', objectId: name, changes })
    })
    const overview = await monitoringOverview(db, [name])
    return overview.features[0]!
  }

  const entry = { params: FeatureParams, response: { 200: FeatureMonitoringSchema } }
  app.post('/api/v1/admin/monitoring/features/:name/pause/', {
    schema: { tags: ['admin: monitoring'], summary: 'Pause a feature: it accepts creates, nothing of it starts until resumed', ...entry },
  }, async (request) => control(request, request.params.name, 'pause', { paused: true }, (trx) => setFeaturePaused(trx, request.params.name, true)))

  app.post('/api/v1/admin/monitoring/features/:name/resume/', {
    schema: { tags: ['admin: monitoring'], summary: 'Resume a paused feature', ...entry },
  }, async (request) => control(request, request.params.name, 'resume', { paused: false }, (trx) => setFeaturePaused(trx, request.params.name, false)))

  app.patch('/api/v1/admin/monitoring/features/:name/', {
    schema: { tags: ['admin: monitoring'], summary: 'Set the concurrency limit (null: none beyond the threads)', body: FeaturePatchSchema, ...entry },
  }, async (request) => {
    const { concurrency } = request.body
    if (concurrency === undefined) {
      if (!names().includes(request.params.name)) throw notFound()
      return (await monitoringOverview(db, [request.params.name])).features[0]!
    }
    return control(request, request.params.name, 'update', { concurrency }, (trx) => setFeatureConcurrency(trx, request.params.name, concurrency))
  })
}

export default monitoringRoutes
