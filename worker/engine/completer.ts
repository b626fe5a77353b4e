// Completions grouped per commit. Every successful attempt's save goes through here: when no save is
// in flight it starts at once (an idle engine adds no wait), otherwise it joins the next group, which
// starts as soon as the one in flight has committed. A group is one transaction of a fixed number of
// statements (attempts.ts completeAttempts), so under load the round trips and commits per job fall
// with the group's size, while each member keeps its own fencing and outcome. The group's transaction
// also claims the next jobs for the threads free by then (`tail`, from the engine), so that under load
// a thread's next job comes with its last one's save rather than in a transaction of its own.
import type { PgBoss } from 'pg-boss'
import type { Db } from '../../db/index.ts'
import { completeAttempts, type Completion, type GroupTail } from './attempts.ts'

/** Members of one group at most: a bound on one transaction's size and its rows' lock time. */
const MAX_GROUP = 64

export interface Completer {
  /** Saves one successful attempt; false when it no longer owned its request (nothing written). */
  complete(c: Completion): Promise<boolean>
  /** Saves are waiting or in flight (their group will claim for the free threads). */
  busy(): boolean
  /** Groups saved so far and their members (monitoring of the grouping). */
  stats(): { groups: number; members: number }
}

export interface CompleterOptions {
  /** Work for each group's transaction after its saves (the engine's claim for free threads). */
  tail?: GroupTail
  /** Called when the last waiting save is done: whoever deferred to the groups takes over again. */
  onIdle?(): void
}

export function startCompleter(db: Db, boss: PgBoss, options: CompleterOptions = {}): Completer {
  const waiting: { c: Completion; resolve(ok: boolean): void; reject(err: unknown): void }[] = []
  let running = false
  let groups = 0
  let members = 0
  async function drain(): Promise<void> {
    running = true
    try {
      while (waiting.length > 0) {
        const group = waiting.splice(0, MAX_GROUP)
        groups++
        members += group.length
        const outcomes = await completeAttempts(db, boss, group.map((w) => w.c), options.tail)
          .catch((err: unknown) => group.map((): PromiseSettledResult<boolean> => ({ status: 'rejected', reason: err })))
        outcomes.forEach((o, i) => (o.status === 'fulfilled' ? group[i]!.resolve(o.value) : group[i]!.reject(o.reason)))
      }
    } finally {
      running = false
      options.onIdle?.()
    }
  }
  return {
    complete(c) {
      return new Promise<boolean>((resolve, reject) => {
        waiting.push({ c, resolve, reject })
        if (!running) void drain()
      })
    },
    busy: () => running || waiting.length > 0,
    stats: () => ({ groups, members }),
  }
}
