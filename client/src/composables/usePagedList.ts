// One page of a list, loaded whenever its parameters change (the newest answer wins). While any row
// is unfinished (`live`), the page is fetched again every few seconds; the timer is re-armed only
// after the previous answer arrived, so requests never overlap.
import { computed, shallowRef, toValue, watch, type MaybeRefOrGetter } from 'vue'
import { ApiError } from '../api/http.ts'
import type { Page } from '../../../server/schemas/pagination.ts'
import { useTimeoutPoll } from './useTimeoutPoll.ts'

export interface PagedListOptions<T> {
  /** Rows that are still changing: while any is on the page, it is polled. */
  live?: (row: T) => boolean
  pollMs?: number
}

export function usePagedList<T, P>(fetch: (params: P) => Promise<Page<T>>, params: MaybeRefOrGetter<P>, options: PagedListOptions<T> = {}) {
  const page = shallowRef<Page<T>>()
  const error = shallowRef<ApiError>()
  const loading = shallowRef(false)
  const unfinished = computed(() => (options.live ? page.value?.results.some(options.live) ?? false : false))
  let latest = 0

  async function load() {
    const mine = ++latest
    loading.value = true
    try {
      const next = await fetch(toValue(params))
      if (mine !== latest) return // the parameters changed meanwhile: a newer answer is coming
      page.value = next
      error.value = undefined
    } catch (err) {
      if (mine === latest) error.value = err instanceof ApiError ? err : new ApiError(0, { detail: (err as Error).message })
    } finally {
      if (mine === latest) loading.value = false
    }
    if (unfinished.value) poll.resume()
    else poll.pause()
  }

  const poll = useTimeoutPoll(load, options.pollMs ?? 2000, { immediate: false })
  watch(() => JSON.stringify(toValue(params)), () => {
    poll.pause()
    void load()
  }, { immediate: true })

  return { page, error, loading, unfinished, reload: load }
}
