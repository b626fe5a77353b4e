// Who is signed in. One state for the whole app: the route guard loads it once, sign-in, sign-up and
// sign-out change it. The browser holds the key in an HttpOnly cookie; the SPA never sees it.
import { computed, readonly, shallowRef } from 'vue'
import * as auth from '../api/auth.ts'
import { ApiError } from '../api/http.ts'

const user = shallowRef<auth.User | null>(null)
let loading: Promise<auth.User | null> | null = null

/** Asks the server once (GET auth/user/: 401 when signed out); later calls reuse the answer. */
function load(): Promise<auth.User | null> {
  loading ??= auth.currentUser().then(
    (u) => (user.value = u),
    (err) => {
      loading = null // a network error should be retried on the next navigation
      if (err instanceof ApiError && err.status === 401) loading = Promise.resolve(null)
      return (user.value = null)
    },
  )
  return loading
}

function set(u: auth.User | null) {
  user.value = u
  loading = Promise.resolve(u)
}

export function useSession() {
  return {
    user: readonly(user),
    signedIn: computed(() => user.value !== null),
    load,
    /** Forget the user locally (after a 401, or a password reset that revoked every session). */
    clear: () => set(null),
    async signIn(credentials: auth.Credentials) {
      set((await auth.login(credentials)).user)
    },
    /** True when signed in at once; false when the server asks to verify the e-mail first. */
    async signUp(registration: auth.Registration): Promise<boolean> {
      const res = await auth.register(registration)
      if (!res.key) return false
      set(await auth.currentUser())
      return true
    },
    async signOut() {
      try {
        await auth.logout()
      } finally {
        set(null)
      }
    },
  }
}
