// Polling in VueUse's useTimeoutPoll manner: the timer is re-armed only after the previous call has
// finished, so requests never overlap however slow the server is; stops with the component.
import { getCurrentScope, onScopeDispose, shallowRef, toValue, type MaybeRefOrGetter } from 'vue'

export interface TimeoutPollOptions {
  /** Start at once (default true). */
  immediate?: boolean
  /** On resume, call fn at once instead of after one interval (default false). */
  immediateCallback?: boolean
}

export function useTimeoutPoll(fn: () => Promise<unknown>, intervalMs: MaybeRefOrGetter<number>, options: TimeoutPollOptions = {}) {
  const isActive = shallowRef(false)
  let timer: ReturnType<typeof setTimeout> | undefined
  let running = false

  async function tick() {
    timer = undefined
    running = true
    try {
      await fn()
    } catch {
      // fn reports its own errors; the loop keeps its rhythm.
    } finally {
      running = false
    }
    if (isActive.value && timer === undefined) timer = setTimeout(tick, toValue(intervalMs))
  }

  function resume() {
    if (isActive.value) return
    isActive.value = true
    // A call still in flight re-arms the timer itself when it ends.
    if (running) return
    if (options.immediateCallback) void tick()
    else timer = setTimeout(tick, toValue(intervalMs))
  }

  function pause() {
    isActive.value = false
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
  }

  if (options.immediate ?? true) resume()
  if (getCurrentScope()) onScopeDispose(pause)
  return { isActive, pause, resume }
}
