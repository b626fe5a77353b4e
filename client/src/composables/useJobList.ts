// The dashboard's page of requests. Refreshes every few seconds while any request on the page is
// unfinished (one list request for all of them, instead of one stream per row).
import { computed, shallowRef, toValue, watch, type MaybeRefOrGetter } from 'vue'
import { ApiError } from '../api/http.ts'
import { isTerminal, listJobs, type JobPage, type JobQuery } from '../api/jobs.ts'
import { useTimeoutPoll } from './useTimeoutPoll.ts'

export function useJobList(query: MaybeRefOrGetter<JobQuery>, pollMs = 2000) {
  const page = shallowRef<JobPage>()
  const error = shallowRef<ApiError>()
  const loading = shallowRef(false)
  const unfinished = computed(() => page.value?.results.some((r) => !isTerminal(r.status)) ?? false)
  let latest = 0

  async function load() {
    const mine = ++latest
    loading.value = true
    try {
      const next = await listJobs(toValue(query))
      if (mine !== latest) return // the filter changed meanwhile: a newer answer is coming
      page.value = next
      error.value = undefined
    } catch (err) {
      if (mine === latest) error.value = err as ApiError
    } finally {
      if (mine === latest) loading.value = false
    }
    if (unfinished.value) poll.resume()
    else poll.pause()
  }

  const poll = useTimeoutPoll(load, pollMs, { immediate: false })
  watch(() => JSON.stringify(toValue(query)), () => {
    poll.pause()
    void load()
  }, { immediate: true })

  return { page, error, loading, unfinished, reload: load }
}
