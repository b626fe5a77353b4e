// Service plugin: Prometheus metrics of this instance (prom-client), served on GET /metrics.
// One Registry per instance (made with the services, server/services.ts), so two instances in one
// process (tests) never share a counter; the job engine and the schedules report into it through the
// small JobMetrics interface (worker/metrics.ts), after each transition has committed.
//   conveyor_http_requests_total{method,route,status}   route = the route's pattern, never the raw URL
//   conveyor_http_request_duration_seconds{method,route}
//   conveyor_jobs_total{feature,outcome}                 created, completed, failed, cancelled, retried
//   conveyor_job_duration_seconds{feature}               claim → settlement of one attempt
//   conveyor_queue_depth{feature,state}                  read from the database at scrape time (cached)
//   conveyor_worker_threads{state}                       idle, busy (this instance's pool)
// plus prom-client's default process and event-loop metrics.
import { AUTHENTICATED, errors } from '../schemas/users.ts'
import { timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { queueDepths, type JobMetrics } from '../../worker/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: InstanceMetrics
  }
}

/** Label of every request that matched no route (a fixed value: raw URLs would explode the series). */
export const UNKNOWN_ROUTE = '(unmatched)'
const DEPTH_CACHE_MS = 5000
const DEPTH_STATES = ['queued', 'active', 'delayed'] as const

interface Depth { feature: string; queued: number; active: number; delayed: number }

export interface InstanceMetrics extends JobMetrics {
  registry: Registry
  http(method: string, route: string, status: number, seconds: number): void
  /** Where conveyor_queue_depth comes from at scrape time (the app sets it: it has the database). */
  depthSource(read: () => Promise<Depth[]>): void
}

export function createMetrics(): InstanceMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const httpTotal = new Counter({
    name: 'conveyor_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const, registers,
  })
  const httpSeconds = new Histogram({
    name: 'conveyor_http_request_duration_seconds', help: 'Time to answer an HTTP request, by method and route pattern.',
    labelNames: ['method', 'route'] as const, registers,
  })
  const jobs = new Counter({
    name: 'conveyor_jobs_total', help: 'Processing-request transitions committed by this instance, by feature and outcome.',
    labelNames: ['feature', 'outcome'] as const, registers,
  })
  const jobSeconds = new Histogram({
    name: 'conveyor_job_duration_seconds', help: 'Duration of one attempt, from its claim to its settlement.',
    labelNames: ['feature'] as const, buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600], registers,
  })
  let readThreads: (() => { size: number; busy: number }) | null = null
  new Gauge({
    name: 'conveyor_worker_threads', help: "This instance's worker threads, by state.", labelNames: ['state'] as const, registers,
    collect() {
      const t = readThreads?.() ?? { size: 0, busy: 0 }
      this.set({ state: 'busy' }, t.busy)
      this.set({ state: 'idle' }, t.size - t.busy)
    },
  })
  let readDepths: (() => Promise<Depth[]>) | null = null
  // A scrape every few seconds from several Prometheus servers must not mean a query each.
  let cached: { at: number; rows: Promise<Depth[]> } | null = null
  new Gauge({
    name: 'conveyor_queue_depth', help: 'Requests by feature and state (queued, active, delayed), read from the database.',
    labelNames: ['feature', 'state'] as const, registers,
    async collect() {
      if (!readDepths) return
      if (!cached || Date.now() - cached.at > DEPTH_CACHE_MS) {
        const fresh = { at: Date.now(), rows: readDepths() }
        fresh.rows.catch(() => { if (cached === fresh) cached = null })
        cached = fresh
      }
      const rows = await cached.rows
      this.reset()
      for (const r of rows) for (const state of DEPTH_STATES) this.set({ feature: r.feature, state }, r[state])
    },
  })
  // Every response is counted: the label sets are bound once each (route × method × status, a
  // bounded set), so a response costs prom-client's hash of them and no new label objects.
  type Bound = { total: Counter.Internal; seconds: Histogram.Internal<'method' | 'route'> }
  const bound = new Map<string, Map<string, Map<number, Bound>>>()
  return {
    registry,
    http(method, route, status, seconds) {
      let byMethod = bound.get(route)
      if (!byMethod) bound.set(route, (byMethod = new Map()))
      let byStatus = byMethod.get(method)
      if (!byStatus) byMethod.set(method, (byStatus = new Map()))
      let b = byStatus.get(status)
      if (!b) byStatus.set(status, (b = { total: httpTotal.labels(method, route, String(status)), seconds: httpSeconds.labels(method, route) }))
      b.total.inc()
      b.seconds.observe(seconds)
    },
    job(feature, outcome) { jobs.inc({ feature, outcome }) },
    attemptSeconds(feature, seconds) { jobSeconds.observe({ feature }, seconds) },
    threads(read) { readThreads = read },
    depthSource(read) { readDepths = read; cached = null },
  }
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export default fp<{ metrics: InstanceMetrics }>(async (app, { metrics }) => {
  app.decorate('metrics', metrics)
  // Every registered feature appears, at 0 when it has no unfinished request.
  metrics.depthSource(async () => {
    const found = new Map((await queueDepths(app.db)).map((d) => [d.feature, d]))
    return app.features.map((f) => found.get(f.name) ?? { feature: f.name, queued: 0, active: 0, delayed: 0 })
  })

  app.addHook('onResponse', (request, reply, done) => {
    metrics.http(request.method, request.routeOptions.url ?? UNKNOWN_ROUTE, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  // Prometheus: a staff member's key, or `Authorization: Bearer <METRICS_TOKEN>` when that is set.
  const token = app.config.metricsToken
  const isMetricsToken = (request: FastifyRequest) => {
    const [scheme, value] = (request.headers.authorization ?? '').trim().split(/\s+/)
    return token !== null && /^bearer$/i.test(scheme ?? '') && value !== undefined && sameSecret(value, token)
  }
  app.get('/metrics', {
    // A staff key, or METRICS_TOKEN as a bearer key: its own check, so its security is said here.
    schema: { tags: ['system'], summary: 'Prometheus metrics of this instance (text format)', security: AUTHENTICATED, response: errors(401, 403) },
    logLevel: 'warn',
    onRequest: async (request, reply) => {
      if (!isMetricsToken(request)) await app.requireStaff(request, reply)
    },
  }, async (_request, reply) => {
    const body = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(body)
  })
}, { name: 'metrics', dependencies: ['database', 'features', 'accounts-auth'] })
