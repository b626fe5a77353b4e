// A list page's state — page, filters, ordering — kept in the URL query, so a reload, the back
// button or a shared link shows the same view; and the page of rows it selects (usePagedList).
// Typing in a search box updates the URL after a pause, replacing the history entry.
import { computed, onScopeDispose, shallowRef, watch } from 'vue'
import { useRoute, useRouter, type LocationQueryRaw } from 'vue-router'
import type { ListParams, Page } from '../api/admin.ts'
import { usePagedList, type PagedListOptions } from './usePagedList.ts'

/** Rows per page, sent with every request so the pager's arithmetic matches the server's. */
export const LIST_PAGE_SIZE = 20

export interface ListSpec<F extends string> {
  /** The filters' names, as the API's query parameters. */
  filters: readonly F[]
  /** The fields the list may be ordered by (the API's `?ordering=`); none: not sortable. */
  orderings?: readonly string[]
  defaultOrdering?: string
}

type Filters<F extends string> = Record<F, string>
interface Change<F extends string> { page?: number; ordering?: string; filters?: Partial<Filters<F>> }

const text = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '')

export function useListState<F extends string>(spec: ListSpec<F>) {
  const route = useRoute()
  const router = useRouter()
  // While leaving the page the query is the next page's: keep the last values of this one.
  const mine = route.name
  const here = () => route.name === mine

  const page = computed((old?: number) => (here() ? Math.max(1, Math.floor(Number(text(route.query.page))) || 1) : old ?? 1))
  const ordering = computed((old?: string) => {
    if (!here()) return old ?? ''
    const o = text(route.query.ordering)
    return spec.orderings?.includes(o.replace(/^-/, '')) ? o : spec.defaultOrdering ?? ''
  })
  const filters = computed((old?: Filters<F>) => {
    if (!here()) return old ?? ({} as Filters<F>)
    return Object.fromEntries(spec.filters.map((f) => [f, text(route.query[f]).trim()])) as Filters<F>
  })
  const active = computed(() => spec.filters.some((f) => filters.value[f] !== ''))

  /** The API's query parameters for the current state. */
  const params = computed<ListParams>(() => ({
    page: page.value > 1 ? page.value : undefined,
    page_size: LIST_PAGE_SIZE,
    ordering: ordering.value || undefined,
    ...filters.value,
  }))

  function update(change: Change<F>, options: { replace?: boolean } = {}) {
    const f = { ...filters.value, ...change.filters }
    const o = change.ordering ?? ordering.value
    // A new filter or order starts again at the first page.
    const p = change.filters || change.ordering !== undefined ? change.page ?? 1 : change.page ?? page.value
    const query: LocationQueryRaw = {}
    for (const name of spec.filters) if (f[name]) query[name] = f[name]
    if (o && o !== spec.defaultOrdering) query.ordering = o
    if (p > 1) query.page = String(p)
    void router[options.replace ? 'replace' : 'push']({ query })
  }

  /** Click on a column header: ascending first, then descending. */
  const sortBy = (field: string) => update({ ordering: ordering.value === field ? `-${field}` : field })
  const setFilter = (name: F, value: string) => update({ filters: { [name]: value } as Partial<Filters<F>> })
  const clearFilters = () => update({ filters: Object.fromEntries(spec.filters.map((f) => [f, ''])) as Partial<Filters<F>> })

  /** A text box bound to a filter, written to the URL once the typing pauses. */
  function debounced(name: F, ms = 300) {
    const value = shallowRef(filters.value[name])
    let timer: ReturnType<typeof setTimeout> | undefined
    watch(() => filters.value[name], (v) => { if (timer === undefined) value.value = v })
    watch(value, (v) => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        timer = undefined
        if (v.trim() !== filters.value[name]) update({ filters: { [name]: v.trim() } as Partial<Filters<F>> }, { replace: true })
      }, ms)
    })
    onScopeDispose(() => clearTimeout(timer))
    return value
  }

  return { page, ordering, filters, active, params, update, sortBy, setFilter, clearFilters, debounced, setPage: (p: number) => update({ page: p }) }
}

export type ListState<F extends string> = ReturnType<typeof useListState<F>>

/** The list state and its page of rows; a page that no longer exists (rows deleted meanwhile) goes back to the first. */
export function useList<T, F extends string>(spec: ListSpec<F>, fetch: (params: ListParams) => Promise<Page<T>>, options: PagedListOptions<T> = {}) {
  const state = useListState(spec)
  const list = usePagedList(fetch, state.params, options)
  watch(list.error, (e) => { if (e?.status === 404 && state.page.value > 1) state.update({ page: 1 }, { replace: true }) })
  return { state, ...list }
}
