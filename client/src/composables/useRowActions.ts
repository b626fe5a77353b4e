// The outcome of a list's row actions (deactivate, delete, run now, …): a refusal from the server
// (400/403) as a message for an alert, or what was done for a status message, shown once the list
// has been refreshed, so the message and the table agree.
import { shallowRef } from 'vue'
import { ApiError } from '../api/http.ts'

export function useRowActions(reload: () => Promise<void>) {
  const failure = shallowRef('')
  const done = shallowRef('')

  /** Runs `fn` for the row called `name`; true when it worked. */
  async function act(name: string, what: string, fn: () => Promise<unknown>): Promise<boolean> {
    failure.value = ''
    done.value = ''
    try {
      await fn()
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, { detail: (err as Error).message })
      failure.value = `${name}: ${Object.values(e.fieldErrors).flat().join(' ') || e.message}`
      await reload()
      return false
    }
    await reload()
    done.value = `${name}: ${what}`
    return true
  }

  /** After a dialog saved something itself. */
  const report = (name: string, what: string) => act(name, what, async () => {})

  return { failure, done, act, report }
}
