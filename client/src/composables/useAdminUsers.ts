// The staff's user list: search, filters, ordering and page in the URL; the row actions (activate,
// deactivate, delete) with the server's refusals (400/403) kept for the page to show; whether the
// signed-in staff member is a superuser (only they may change `is_staff`).
import { computed, shallowRef } from 'vue'
import { deleteUser, getUser, listUsers, updateUser, type AdminUser } from '../api/admin.ts'
import { ApiError } from '../api/http.ts'
import { useList } from './useListState.ts'
import { useSession } from './useSession.ts'

// auth/user/ does not say; the staff API's own record of the signed-in user does. Asked once.
const superuser = shallowRef<boolean>()
let asked: number | null = null

export function useAdminUsers() {
  const session = useSession()
  const list = useList(
    { filters: ['search', 'is_active', 'is_staff'] as const, orderings: ['email', 'date_joined', 'last_login'], defaultOrdering: 'email' },
    listUsers,
  )
  const me = session.user.value
  if (me && asked !== me.pk) {
    asked = me.pk
    superuser.value = undefined
    getUser(me.pk).then((u) => (superuser.value = u.is_superuser), () => (superuser.value = false))
  }

  /** The last row action's outcome: a refusal to show as an alert, or what was done (a status message). */
  const failure = shallowRef<{ email: string; message: string }>()
  const done = shallowRef('')

  async function act(user: AdminUser, what: string, fn: () => Promise<unknown>): Promise<boolean> {
    failure.value = undefined
    done.value = ''
    try {
      await fn()
      await list.reload() // the message and the table agree when it shows
      done.value = `${user.email}: ${what}.`
      return true
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, undefined)
      const messages = Object.values(e.fieldErrors).flat()
      failure.value = { email: user.email, message: messages.length ? messages.join(' ') : e.message }
      return false
    }
  }

  return {
    ...list,
    me: computed(() => session.user.value),
    isSuperuser: computed(() => superuser.value === true),
    failure,
    done,
    setActive: (user: AdminUser, on: boolean) => act(user, on ? 'activated' : 'deactivated', () => updateUser(user.pk, { is_active: on })),
    remove: (user: AdminUser) => act(user, 'deleted', () => deleteUser(user.pk)),
    /** After a dialog saved something. */
    saved: async (email: string, what: string) => {
      failure.value = undefined
      done.value = ''
      await list.reload()
      done.value = `${email}: ${what}.`
    },
  }
}
