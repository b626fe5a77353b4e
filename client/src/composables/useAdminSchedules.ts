// The staff's schedules: list (filters in the URL), enable / disable, run now and delete, with their
// outcome; after a save, when it runs next (the server computes it).
import { shallowRef } from 'vue'
import { deleteSchedule, listSchedules, runSchedule, updateSchedule, type Schedule } from '../api/admin.ts'
import type { JobStatus } from '../api/jobs.ts'
import { formatDate } from '../lib/format.ts'
import { useList } from './useListState.ts'
import { useRowActions } from './useRowActions.ts'

export function useAdminSchedules() {
  const list = useList({ filters: ['search', 'enabled', 'feature'] as const }, listSchedules)
  const actions = useRowActions(list.reload)
  /** The request the last "run now" created (the page links to it). */
  const started = shallowRef<JobStatus>()
  const act = (s: Schedule, what: string, fn: () => Promise<unknown>) => {
    started.value = undefined
    return actions.act(s.name, what, fn)
  }

  return {
    ...list,
    ...actions,
    started,
    setEnabled: (s: Schedule, on: boolean) => act(s, on ? 'enabled.' : 'disabled.', () => updateSchedule(s.id, { enabled: on })),
    runNow: (s: Schedule) => act(s, 'a job was started.', async () => (started.value = await runSchedule(s.id))),
    remove: (s: Schedule) => act(s, 'deleted.', () => deleteSchedule(s.id)),
    saved: (s: Schedule, created: boolean) => act(s, `${created ? 'created' : 'saved'}. ${s.next_run_at ? `Next run: ${formatDate(s.next_run_at)}.` : 'It will not run while disabled.'}`, async () => {}),
  }
}
