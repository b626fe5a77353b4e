// The registered features, fetched once per page load and shared by every view that needs them.
import { computed, shallowRef } from 'vue'
import { ApiError } from '../api/http.ts'
import { listFeatures, type FeatureInfo } from '../api/jobs.ts'

const features = shallowRef<FeatureInfo[]>()
const error = shallowRef<ApiError>()
let loading: Promise<void> | null = null

export function useFeatures() {
  loading ??= listFeatures().then(
    (list) => {
      features.value = list
      error.value = undefined
    },
    (err) => {
      error.value = err as ApiError
      loading = null
    },
  )
  const featureOf = (name: string) => features.value?.find((f) => f.name === name)
  const titleOf = (name: string) => featureOf(name)?.title ?? name
  /** As choices for a select: value the name, label the title. */
  const options = computed(() => (features.value ?? []).map((f) => ({ value: f.name, label: f.title })))
  return { features, error, featureOf, titleOf, options }
}
