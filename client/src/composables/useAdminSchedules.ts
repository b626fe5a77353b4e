// The staff's schedules: list (filters in the URL), enable / disable, run now and delete, each
// outcome kept for the page to show (a refusal as an alert, a success as a status message).
import { shallowRef } from 'vue'
import { deleteSchedule, listSchedules, runSchedule, updateSchedule, type Schedule } from '../api/admin.ts'
import { ApiError } from '../api/http.ts'
import type { JobStatus } from '../api/jobs.ts'
import { formatDate } from '../lib/format.ts'
import { useList } from './useListState.ts'

export function useAdminSchedules() {
  const list = useList({ filters: ['search', 'enabled', 'feature'] as const }, listSchedules)
  const failure = shallowRef('')
  const done = shallowRef('')
  /** The request the last "run now" created (the page links to it). */
  const started = shallowRef<JobStatus>()

  async function act(s: Schedule, what: string, fn: () => Promise<unknown>) {
    failure.value = ''
    done.value = ''
    started.value = undefined
    try {
      await fn()
      await list.reload() // the message and the table agree when it shows
      done.value = `${s.name}: ${what}.`
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, undefined)
      failure.value = `${s.name}: ${Object.values(e.fieldErrors).flat().join(' ') || e.message}`
      await list.reload()
    }
  }

  return {
    ...list,
    failure,
    done,
    started,
    setEnabled: (s: Schedule, on: boolean) => act(s, on ? 'enabled' : 'disabled', () => updateSchedule(s.id, { enabled: on })),
    runNow: (s: Schedule) => act(s, 'a job was started', async () => (started.value = await runSchedule(s.id))),
    remove: (s: Schedule) => act(s, 'deleted', () => deleteSchedule(s.id)),
    saved: async (s: Schedule, created: boolean) => {
      failure.value = ''
      done.value = ''
      started.value = undefined
      await list.reload()
      done.value = `${s.name}: ${created ? 'created' : 'saved'}. ${s.next_run_at ? `Next run: ${formatDate(s.next_run_at)}.` : 'It will not run while disabled.'}`
    },
  }
}
