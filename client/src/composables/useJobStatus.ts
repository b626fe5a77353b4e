// Live status of one processing request: Server-Sent Events (the browser sends the cookie on a
// same-origin EventSource), falling back to polling status/ when the stream fails; both stop at a
// terminal status. Restarts when the feature or id changes, stops with the component.
import { onScopeDispose, shallowRef, toValue, watch, type MaybeRefOrGetter } from 'vue'
import { ApiError } from '../api/http.ts'
import { eventsUrl, getStatus, isTerminal, type JobStatus } from '../api/jobs.ts'
import { useTimeoutPoll } from './useTimeoutPoll.ts'

/** A line of the job log (`event: log` on the stream). */
export interface LogLine { at: string; attempt: number; level: 'info' | 'warn' | 'error'; message: string }
/** The server keeps at most 500 lines per attempt; the page keeps as many. */
const MAX_LINES = 500

export function useJobStatus(feature: MaybeRefOrGetter<string>, id: MaybeRefOrGetter<string>, pollMs = 1000) {
  const status = shallowRef<JobStatus>()
  const error = shallowRef<ApiError>()
  const logs = shallowRef<LogLine[]>([])
  /** How updates arrive right now: 'events', 'polling', or 'idle' once terminal (or failed). */
  const mode = shallowRef<'events' | 'polling' | 'idle'>('idle')
  let source: EventSource | null = null

  function accept(next: JobStatus) {
    status.value = next
    error.value = undefined
    if (isTerminal(next.status)) stop()
  }

  async function refresh() {
    try {
      accept(await getStatus(toValue(feature), toValue(id)))
    } catch (err) {
      error.value = err as ApiError
      // Gone or no longer ours: polling again will not change that. Other errors: keep trying.
      if (err instanceof ApiError && [401, 403, 404].includes(err.status)) stop()
    }
  }

  const poll = useTimeoutPoll(refresh, pollMs, { immediate: false, immediateCallback: true })

  function startPolling() {
    mode.value = 'polling'
    poll.resume()
  }

  function stop() {
    source?.close()
    source = null
    poll.pause()
    mode.value = 'idle'
  }

  function start() {
    stop()
    status.value = undefined
    error.value = undefined
    logs.value = []
    if (typeof EventSource === 'undefined') return startPolling()
    const es = new EventSource(eventsUrl(toValue(feature), toValue(id)))
    source = es
    mode.value = 'events'
    es.addEventListener('status', (event) => {
      if (source === es) accept(JSON.parse((event as MessageEvent<string>).data) as JobStatus)
    })
    es.addEventListener('log', (event) => {
      if (source !== es) return
      const next = [...logs.value, JSON.parse((event as MessageEvent<string>).data) as LogLine]
      logs.value = next.length > MAX_LINES ? next.slice(-MAX_LINES) : next
    })
    // The stream broke (proxy, network, an error answer): EventSource would retry on its own;
    // polling instead gives a clear error and never overlaps.
    es.onerror = () => {
      if (source !== es) return
      es.close()
      source = null
      startPolling()
    }
  }

  watch(() => [toValue(feature), toValue(id)], start, { immediate: true })
  onScopeDispose(stop)

  return { status, error, logs, mode, refresh, accept }
}
