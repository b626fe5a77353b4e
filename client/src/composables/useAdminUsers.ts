// The staff's user list: search, filters, ordering and page in the URL; the row actions (activate,
// deactivate, delete) with their outcome; whether the signed-in staff member is a superuser (only
// they may change `is_staff`).
import { computed, shallowRef } from 'vue'
import { deleteUser, getUser, listUsers, updateUser, type AdminUser } from '../api/admin.ts'
import { useList } from './useListState.ts'
import { useRowActions } from './useRowActions.ts'
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
  const actions = useRowActions(list.reload)

  return {
    ...list,
    ...actions,
    me: computed(() => session.user.value),
    isSuperuser: computed(() => superuser.value === true),
    setActive: (u: AdminUser, on: boolean) => actions.act(u.email, on ? 'activated.' : 'deactivated.', () => updateUser(u.pk, { is_active: on })),
    remove: (u: AdminUser) => actions.act(u.email, 'deleted.', () => deleteUser(u.pk)),
  }
}
