// One processing request for its page: live status, the results once completed, cancel and delete.
import { shallowRef, toValue, watch, type MaybeRefOrGetter } from 'vue'
import { ApiError } from '../api/http.ts'
import { cancelJob, deleteJob, getResults, type JobResults } from '../api/jobs.ts'
import { useJobStatus } from './useJobStatus.ts'

export function useJob(feature: MaybeRefOrGetter<string>, id: MaybeRefOrGetter<string>) {
  const live = useJobStatus(feature, id)
  const results = shallowRef<JobResults>()
  const resultsError = shallowRef<ApiError>()
  const actionError = shallowRef<ApiError>()
  const busy = shallowRef(false)

  watch(() => live.status.value?.status, async (now) => {
    if (now !== 'completed' || results.value?.id === toValue(id)) return
    try {
      results.value = await getResults(toValue(feature), toValue(id))
    } catch (err) {
      resultsError.value = err as ApiError
    }
  })
  watch(() => toValue(id), () => {
    results.value = undefined
    resultsError.value = undefined
    actionError.value = undefined
  })

  async function act<T>(fn: () => Promise<T>): Promise<T | undefined> {
    busy.value = true
    actionError.value = undefined
    try {
      return await fn()
    } catch (err) {
      actionError.value = err as ApiError
      return undefined
    } finally {
      busy.value = false
    }
  }

  return {
    ...live,
    results,
    resultsError,
    actionError,
    busy,
    cancel: async () => {
      const next = await act(() => cancelJob(toValue(feature), toValue(id)))
      if (next) live.accept(next)
      // 409: it finished meanwhile; show what it is now.
      else if (actionError.value?.status === 409) await live.refresh()
    },
    /** True once deleted. */
    remove: async () => (await act(() => deleteJob(toValue(feature), toValue(id)).then(() => true))) === true,
  }
}
