// The monitoring page's data: the overview refreshed every few seconds (never overlapping, see
// useTimeoutPoll), and the queue controls, whose answer updates the feature's card at once and then
// reloads the rest.
import { shallowRef } from 'vue'
import { ApiError } from '../api/http.ts'
import { getMonitoring, pauseFeature, resumeFeature, setConcurrency, type FeatureMonitoring, type Monitoring } from '../api/monitoring.ts'
import { useTimeoutPoll } from './useTimeoutPoll.ts'

export const REFRESH_MS = 3000

export function useMonitoring() {
  const data = shallowRef<Monitoring>()
  const error = shallowRef<ApiError>()
  const actionError = shallowRef<ApiError>()
  const busy = shallowRef<string | null>(null)
  const updatedAt = shallowRef<Date>()

  async function load() {
    try {
      data.value = await getMonitoring()
      updatedAt.value = new Date()
      error.value = undefined
    } catch (err) {
      error.value = err as ApiError
    }
  }
  // The poll and the reload after an action share one queue: never two requests at once.
  let queue: Promise<void> = Promise.resolve()
  const refresh = () => (queue = queue.then(load))
  useTimeoutPoll(refresh, REFRESH_MS, { immediateCallback: true })

  function replace(entry: FeatureMonitoring) {
    if (!data.value) return
    data.value = { ...data.value, features: data.value.features.map((f) => (f.name === entry.name ? entry : f)) }
  }

  async function act(name: string, fn: () => Promise<FeatureMonitoring>) {
    busy.value = name
    actionError.value = undefined
    try {
      replace(await fn())
      // The rest of the page (totals, oldest waiting) must agree with the card: reload it all.
      await refresh()
    } catch (err) {
      actionError.value = err as ApiError
    } finally {
      busy.value = null
    }
  }

  return {
    data, error, actionError, busy, updatedAt, refresh,
    pause: (name: string) => act(name, () => pauseFeature(name)),
    resume: (name: string) => act(name, () => resumeFeature(name)),
    limit: (name: string, concurrency: number | null) => act(name, () => setConcurrency(name, concurrency)),
  }
}
