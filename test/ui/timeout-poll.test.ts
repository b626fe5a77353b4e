// useTimeoutPoll: the next call starts only after the previous one finished, and pause stops it.
// Time is Node's mock clock and each call's duration is a promise the test settles: nothing here
// depends on how fast the machine is, however many test files run beside it.
import { mock } from 'node:test'
import t from 'tap'
import { effectScope } from 'vue'
import { useTimeoutPoll } from '../../client/src/composables/useTimeoutPoll.ts'

/** Lets pending promise callbacks run (setImmediate is not mocked). */
const settle = () => new Promise<void>((r) => setImmediate(r))

/** A poll function whose calls end only when the test says so. */
function controlledCalls() {
  const open: (() => void)[] = []
  let running = 0
  let overlaps = 0
  let calls = 0
  const fn = () => {
    calls++
    if (++running > 1) overlaps++
    return new Promise<void>((resolve) => open.push(() => { running--; resolve() }))
  }
  return {
    fn,
    get calls() { return calls },
    get overlaps() { return overlaps },
    /** Ends the oldest call in flight. */
    async finish() { open.shift()?.(); await settle() },
  }
}

t.beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }))
t.afterEach(() => mock.timers.reset())

t.test('calls never overlap, however slow each one is', async (t) => {
  const c = controlledCalls()
  const poll = useTimeoutPoll(c.fn, 5)
  mock.timers.tick(5)
  t.equal(c.calls, 1, 'the first call starts after one interval')
  mock.timers.tick(1_000)
  t.equal(c.calls, 1, 'no second call while the first is in flight')
  await c.finish()
  mock.timers.tick(4)
  t.equal(c.calls, 1, 'the next call waits a full interval after the previous one ended')
  mock.timers.tick(1)
  t.equal(c.calls, 2)
  await c.finish()
  mock.timers.tick(5)
  t.equal(c.calls, 3, 'kept polling')
  poll.pause()
  await c.finish()
  mock.timers.tick(1_000)
  t.equal(c.calls, 3, 'nothing more after pause')
  t.equal(c.overlaps, 0)
})

t.test('resume during a call in flight does not start a second loop', async (t) => {
  const c = controlledCalls()
  const poll = useTimeoutPoll(c.fn, 1, { immediateCallback: true })
  t.equal(c.calls, 1, 'immediateCallback calls at once')
  poll.pause()
  poll.resume()
  poll.pause()
  poll.resume()
  t.equal(c.calls, 1, 'resuming while a call runs starts nothing new')
  await c.finish()
  mock.timers.tick(1)
  t.equal(c.calls, 2, 'the call in flight re-armed the one loop')
  await c.finish()
  mock.timers.tick(1)
  t.equal(c.calls, 3)
  poll.pause()
  await c.finish()
  mock.timers.tick(100)
  t.equal(c.calls, 3)
  t.equal(c.overlaps, 0)
})

t.test('stops with the scope it was created in; errors do not break the loop', async (t) => {
  let calls = 0
  const scope = effectScope()
  scope.run(() => useTimeoutPoll(async () => {
    calls++
    throw new Error('the server is down')
  }, 5, { immediateCallback: true }))
  for (let i = 0; i < 3; i++) {
    await settle()
    mock.timers.tick(5)
  }
  t.equal(calls, 4, 'kept going after errors')
  scope.stop()
  await settle()
  mock.timers.tick(1_000)
  t.equal(calls, 4, 'stopped with the scope')
})
