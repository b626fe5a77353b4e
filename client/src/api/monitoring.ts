// Staff monitoring (/api/v1/admin/monitoring/…): the overview and the queue controls. Shapes are the
// server's TypeBox schemas, imported as types only.
import type { FeatureMonitoring, Monitoring } from '../../../server/schemas/monitoring.ts'
import { getJson, request } from './http.ts'

export type { FeatureMonitoring, Monitoring }

const feature = (name: string) => `admin/monitoring/features/${encodeURIComponent(name)}/`

export const getMonitoring = () => getJson<Monitoring>('admin/monitoring/')
export const pauseFeature = (name: string) => request<FeatureMonitoring>('POST', `${feature(name)}pause/`)
export const resumeFeature = (name: string) => request<FeatureMonitoring>('POST', `${feature(name)}resume/`)
export const setConcurrency = (name: string, concurrency: number | null) =>
  request<FeatureMonitoring>('PATCH', feature(name), { concurrency })
