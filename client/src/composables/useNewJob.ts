// The "new job" form: the chosen feature's fields (from its input schema), their values, an optional
// file, and the submission (JSON, or multipart with the file) with the server's field errors.
import { computed, ref, shallowRef, watch, type Ref } from 'vue'
import { createJob, type FeatureInfo } from '../api/jobs.ts'
import { initialValues, schemaFields, toInput, type FormValues } from '../lib/schema-fields.ts'
import { useForm } from './useForm.ts'

export function useNewJob(feature: Ref<FeatureInfo | undefined>) {
  const fields = computed(() => (feature.value ? schemaFields(feature.value.input_schema) : []))
  const values = ref<FormValues>({})
  const file = shallowRef<File | null>(null)
  watch(fields, (list) => {
    values.value = initialValues(list)
    file.value = null
  }, { immediate: true })

  const form = useForm(() => {
    const f = feature.value
    if (!f) throw new Error('Choose what to run first.')
    return createJob(f.name, toInput(fields.value, values.value), f.accepts_file ? file.value : null)
  }, { fields: () => [...fields.value.map((f) => f.name), 'file'] })

  return { fields, values, file, ...form }
}
