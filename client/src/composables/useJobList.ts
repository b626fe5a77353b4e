// The dashboard's page of requests. Refreshes every few seconds while any request on the page is
// unfinished (one list request for all of them, instead of one stream per row).
import type { MaybeRefOrGetter } from 'vue'
import { isTerminal, listJobs, type JobQuery, type JobStatus } from '../api/jobs.ts'
import { usePagedList } from './usePagedList.ts'

export function useJobList(query: MaybeRefOrGetter<JobQuery>, pollMs = 2000) {
  return usePagedList(listJobs, query, { live: (r: JobStatus) => !isTerminal(r.status), pollMs })
}
