// The signed-in user's linked providers, and unlinking one (the server refuses the last way to sign in).
import { shallowRef } from 'vue'
import * as auth from '../api/auth.ts'
import { ApiError } from '../api/http.ts'

export function useLinkedAccounts() {
  const accounts = shallowRef<auth.SocialAccount[]>([])
  const loading = shallowRef(true)
  const error = shallowRef<string | null>(null)
  const pending = shallowRef<string | null>(null)

  async function load() {
    try {
      accounts.value = await auth.socialAccounts()
      error.value = null
    } catch (err) {
      error.value = (err as Error).message
    } finally {
      loading.value = false
    }
  }

  async function unlink(provider: string) {
    if (pending.value) return
    pending.value = provider
    error.value = null
    try {
      await auth.unlinkSocialAccount(provider)
      accounts.value = accounts.value.filter((a) => a.provider !== provider)
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, undefined)
      error.value = e.fieldErrors.non_field_errors?.join(' ') ?? e.message
    } finally {
      pending.value = null
    }
  }

  void load()
  return { accounts, loading, error, pending, unlink }
}
