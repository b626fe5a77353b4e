// The staff's view of every user's jobs: filters and page in the URL (dates as days, sent as the
// start of that day and of the next, local time), unfinished rows polled, a selection on the page
// with bulk retry / cancel / delete and each id's outcome, and one job's detail for the drawer.
import { computed, onScopeDispose, shallowRef, watch } from 'vue'
import {
  bulkJobs, cancelAdminJob, getAdminJob, listAdminJobs, retryJob,
  type AdminJob, type AdminJobDetail, type BulkAction, type BulkAnswer, type ListParams,
} from '../api/admin.ts'
import { ApiError } from '../api/http.ts'
import { isTerminal } from '../api/jobs.ts'
import { useList } from './useListState.ts'
import { useTimeoutPoll } from './useTimeoutPoll.ts'

export const JOB_FILTERS = ['search', 'feature', 'status', 'user', 'created_after', 'created_before'] as const

/** A day (YYYY-MM-DD) → its first instant in local time, as ISO; `plusDays` for the end of a range. */
export function dayStart(day: string, plusDays = 0): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!m) return undefined
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays).toISOString()
}

function apiParams(p: ListParams): ListParams {
  return { ...p, created_after: dayStart(String(p.created_after ?? '')), created_before: dayStart(String(p.created_before ?? ''), 1) }
}

const asApiError = (err: unknown) => (err instanceof ApiError ? err : new ApiError(0, { detail: (err as Error).message }))

export function useAdminJobs(pollMs = 2000) {
  const list = useList(
    { filters: JOB_FILTERS, orderings: ['created_at', 'started_at', 'finished_at', 'feature', 'status'], defaultOrdering: '-created_at' },
    (p) => listAdminJobs(apiParams(p)),
    { live: (r: AdminJob) => !isTerminal(r.status), pollMs },
  )

  // Selection: ids on the current page; a new page or filter starts with none.
  const selected = shallowRef<string[]>([])
  watch(() => JSON.stringify(list.state.params.value), () => (selected.value = []))

  const bulkPending = shallowRef(false)
  const bulkAnswer = shallowRef<BulkAnswer>()
  const bulkError = shallowRef<ApiError>()
  async function bulk(action: BulkAction) {
    if (selected.value.length === 0 || bulkPending.value) return
    bulkPending.value = true
    bulkError.value = undefined
    bulkAnswer.value = undefined
    try {
      bulkAnswer.value = await bulkJobs(action, selected.value)
      // Keep the ones that did not work selected, to try again or look at.
      const failed = new Set(bulkAnswer.value.results.filter((r) => !r.ok).map((r) => r.id))
      selected.value = selected.value.filter((id) => failed.has(id))
    } catch (err) {
      bulkError.value = asApiError(err)
    } finally {
      bulkPending.value = false
    }
    await list.reload()
  }

  // The drawer: one job, refreshed (without overlapping requests) until it is terminal.
  const detailId = shallowRef<string | null>(null)
  const detail = shallowRef<AdminJobDetail>()
  const detailError = shallowRef<ApiError>()
  async function loadDetail() {
    const id = detailId.value
    if (!id) return
    try {
      const d = await getAdminJob(id)
      if (id !== detailId.value) return
      detail.value = d
      detailError.value = undefined
      if (isTerminal(d.status)) detailPoll.pause()
    } catch (err) {
      if (id !== detailId.value) return
      detailError.value = asApiError(err)
      if (detailError.value.status === 404) detailPoll.pause()
    }
  }
  const detailPoll = useTimeoutPoll(loadDetail, pollMs, { immediate: false, immediateCallback: true })
  watch(detailId, (id) => {
    detailPoll.pause()
    detail.value = undefined
    detailError.value = undefined
    actionError.value = undefined
    if (id) detailPoll.resume()
  })
  onScopeDispose(() => detailPoll.pause())

  const actionError = shallowRef<ApiError>()
  async function detailAction(fn: (job: AdminJobDetail) => Promise<unknown>) {
    const job = detail.value
    if (!job) return
    actionError.value = undefined
    try {
      await fn(job)
    } catch (err) {
      actionError.value = asApiError(err)
    }
    detailPoll.pause()
    detailPoll.resume()
    await list.reload()
  }

  return {
    ...list,
    selected,
    bulk,
    bulkPending,
    bulkAnswer,
    bulkError,
    detailId,
    detail,
    detailError,
    actionError,
    detailOpen: computed({ get: () => detailId.value !== null, set: (on) => { if (!on) detailId.value = null } }),
    retry: () => detailAction((j) => retryJob(j.id)),
    cancel: () => detailAction((j) => cancelAdminJob(j.id)),
  }
}
