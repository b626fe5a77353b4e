// A form's submission: pending flag, the server's field errors (all at once, DRF style) and the
// message for the rest (non-field errors, `detail`, errors on fields the form does not show).
import { shallowRef, toValue, type MaybeRefOrGetter } from 'vue'
import { ApiError, type FieldErrors } from '../api/http.ts'

export function useForm<T>(action: () => Promise<T>, options: { fields?: MaybeRefOrGetter<readonly string[]> } = {}) {
  const pending = shallowRef(false)
  const errors = shallowRef<FieldErrors>({})
  const messages = shallowRef<string[]>([])

  async function submit(): Promise<{ ok: true; value: T } | { ok: false }> {
    if (pending.value) return { ok: false }
    pending.value = true
    errors.value = {}
    messages.value = []
    try {
      return { ok: true, value: await action() }
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, { detail: (err as Error).message })
      const byField = e.fieldErrors
      const known = toValue(options.fields) ?? []
      const shown: FieldErrors = {}
      const rest: string[] = []
      for (const [field, list] of Object.entries(byField)) {
        if (known.includes(field)) shown[field] = list
        else rest.push(...(field === 'non_field_errors' ? list : list.map((m) => `${field}: ${m}`)))
      }
      if (Object.keys(byField).length === 0) rest.push(e.message)
      errors.value = shown
      messages.value = rest
      return { ok: false }
    } finally {
      pending.value = false
    }
  }

  return { pending, errors, messages, submit }
}
