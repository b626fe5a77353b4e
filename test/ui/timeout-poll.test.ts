// useTimeoutPoll: the next call starts only after the previous one finished, and pause stops it.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { effectScope } from 'vue'
import { useTimeoutPoll } from '../../client/src/composables/useTimeoutPoll.ts'

t.test('calls never overlap, however slow each one is', async (t) => {
  let running = 0
  let overlaps = 0
  let calls = 0
  const poll = useTimeoutPoll(async () => {
    calls++
    if (++running > 1) overlaps++
    await sleep(30) // slower than the interval
    running--
  }, 5)
  await sleep(200)
  poll.pause()
  t.equal(overlaps, 0)
  t.ok(calls >= 3, `kept polling (${calls} calls)`)
  const after = calls
  await sleep(80)
  t.equal(calls, after, 'nothing more after pause')
})

t.test('resume during a call in flight does not start a second loop', async (t) => {
  let running = 0
  let overlaps = 0
  const poll = useTimeoutPoll(async () => {
    if (++running > 1) overlaps++
    await sleep(20)
    running--
  }, 1, { immediateCallback: true })
  poll.pause()
  poll.resume()
  poll.pause()
  poll.resume()
  await sleep(120)
  poll.pause()
  t.equal(overlaps, 0)
})

t.test('stops with the scope it was created in; errors do not break the loop', async (t) => {
  let calls = 0
  const scope = effectScope()
  scope.run(() => useTimeoutPoll(async () => {
    calls++
    throw new Error('the server is down')
  }, 5, { immediateCallback: true }))
  await sleep(60)
  t.ok(calls >= 3, 'kept going after errors')
  scope.stop()
  const after = calls
  await sleep(40)
  t.equal(calls, after, 'stopped with the scope')
})
