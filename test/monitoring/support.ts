// Helpers for the monitoring tests: an app with its engine on the monitoring test features, more
// instances on the same database, staff and user clients, and reading one instance's metrics.
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { buildApp } from '../../server/app.ts'
import type { Config } from '../../server/config.ts'
import { createLogger } from '../../server/logger.ts'
import { openServices, type Services } from '../../server/services.ts'
import { engineDeps } from '../../server/start.ts'
import { startEngine, type Engine } from '../../worker/index.ts'
import { api, build, userWithToken, type Built } from '../helper.ts'

export const MONITORING_FEATURES = path.join(import.meta.dirname, 'fixtures', 'monitoring-features.ts')

export interface Instance { services: Services; engine: Engine | null; app: Built['app'] }

export async function buildMonitoring(t: Test, options: { engine?: boolean; env?: Record<string, string> } = {}) {
  const media = await mkdtemp(path.join(os.tmpdir(), 'conveyor-mon-media-'))
  t.teardown(() => rm(media, { recursive: true, force: true }))
  const built = await build(t, {
    engine: options.engine ?? true,
    env: { MEDIA_ROOT: media, FEATURE_MODULES: MONITORING_FEATURES, JOB_CANCEL_GRACE_SECONDS: '1', SHUTDOWN_GRACE_SECONDS: '2', ...options.env },
  })
  const staff = await userWithToken(built, { isStaff: true })
  const user = await userWithToken(built)
  const as = (who: { headers: Record<string, string> }) =>
    (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, app = built.app) =>
      api(app, { method, url, headers: who.headers, ...(payload === undefined ? {} : { payload: payload as never }) })
  return { ...built, media, staff, user, asStaff: as(staff), asUser: as(user) }
}

/** Another instance (its own services, app and engine) on the same database; stopped by `stop` or at the end. */
export async function startInstance(t: Test, config: Config, url: string, options: { engine?: boolean } = {}): Promise<Instance & { stop(): Promise<void> }> {
  const services = await openServices(config, createLogger(config), url)
  const app = await buildApp(services)
  await app.ready()
  const engine = options.engine === false ? null : await startEngine(engineDeps(services))
  let stopped: Promise<void> | undefined
  const stop = () => (stopped ??= (async () => {
    await engine?.stop()
    await app.close()
    await services.close()
  })())
  t.teardown(stop)
  return { services, engine, app, stop }
}

/** A counter's value in one instance's registry (0 when the series does not exist yet). */
export async function metricValue(services: Pick<Services, 'metrics'>, name: string, labels: Record<string, string>): Promise<number> {
  const metric = services.metrics.registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  const found = values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
  return found ? Number(found.value) : 0
}

/** Parses Prometheus text into `name{k="v",…}` (labels sorted by name) → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    const series = line.slice(0, at)
    const brace = series.indexOf('{')
    const key = brace < 0 ? series : `${series.slice(0, brace)}{${series.slice(brace + 1, -1).split(/,(?=\w+=")/).sort().join(',')}}`
    out.set(key, Number(line.slice(at + 1)))
  }
  return out
}

/** The key parseMetrics gives a series. */
export const series = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`).join(',')}}`
