// Processing requests (/api/v1/<feature>/… and /api/v1/jobs/list/). The status, page and feature
// shapes are the server's TypeBox schemas, imported as types only.
import type { RequestStatusBody, Results, OutputFile as OutputFileBody } from '../../../server/schemas/requests.ts'
import type { Page } from '../../../server/schemas/pagination.ts'
import type { FeatureInfo } from '../../../server/schemas/features.ts'
import type { DownloadFormat } from '../lib/result-view.ts'
import { apiUrl, getJson, postJson, request } from './http.ts'

export type { FeatureInfo }

export type JobStatus = RequestStatusBody
export type Status = JobStatus['status']
export type JobPage = Page<JobStatus>

// Runtime values cannot come from the server module (it would pull its code into the bundle).
export const STATUSES: readonly Status[] = ['pending', 'processing', 'completed', 'failed', 'cancelled']
export const isTerminal = (status: Status): boolean => status === 'completed' || status === 'failed' || status === 'cancelled'

export type OutputFile = OutputFileBody
export type JobResults = Omit<Results, 'status'> & { status: Status }

export interface JobQuery { page?: number; status?: Status; feature?: string }
/** Sent with every list request, so the pager's arithmetic does not depend on the server's default. */
export const PAGE_SIZE = 20

const base = (feature: string) => `${encodeURIComponent(feature)}/`

export const listFeatures = () => getJson<FeatureInfo[]>('features/')

export function listJobs(q: JobQuery = {}): Promise<JobPage> {
  const params = new URLSearchParams({ page_size: String(PAGE_SIZE) })
  if (q.page && q.page > 1) params.set('page', String(q.page))
  if (q.status) params.set('status', q.status)
  if (q.feature) params.set('feature', q.feature)
  return getJson<JobPage>(`jobs/list/?${params}`)
}

/** JSON input, or multipart (fields as text, which the server coerces) when there is a file. */
export function createJob(feature: string, input: Record<string, unknown>, file?: File | null): Promise<Pick<JobStatus, 'id' | 'feature' | 'status' | 'created_at'>> {
  let body: unknown = input
  if (file) {
    const form = new FormData()
    for (const [k, v] of Object.entries(input)) form.append(k, String(v))
    form.append('file', file)
    body = form
  }
  return postJson(`${base(feature)}create/`, body)
}

export const getStatus = (feature: string, id: string) => getJson<JobStatus>(`${base(feature)}status/${id}/`)
export const getResults = (feature: string, id: string) => getJson<JobResults>(`${base(feature)}results/${id}/`)
export const cancelJob = (feature: string, id: string) => postJson<JobStatus>(`${base(feature)}cancel/${id}/`)
export const deleteJob = (feature: string, id: string) => request<void>('DELETE', `${base(feature)}delete/${id}/`)

export const eventsUrl = (feature: string, id: string) => apiUrl(`${base(feature)}events/${id}/`)
export const downloadResultsUrl = (feature: string, id: string, format: DownloadFormat) =>
  apiUrl(`${base(feature)}download-results/${id}/?format=${format}`)
