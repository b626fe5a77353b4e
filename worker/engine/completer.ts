// Completions grouped per commit. Every successful attempt's save goes through here: when no save is
// in flight it starts at once (an idle engine adds no wait), otherwise it joins the next group, which
// starts as soon as the one in flight has committed. A group is one transaction of a fixed number of
// statements (attempts.ts completeAttempts), so under load the round trips and commits per job fall
// with the group's size, while each member keeps its own fencing and outcome.
import type { PgBoss } from 'pg-boss'
import type { Db } from '../../db/index.ts'
import { completeAttempts, type Completion } from './attempts.ts'

/** Members of one group at most: a bound on one transaction's size and its rows' lock time. */
const MAX_GROUP = 64

export interface Completer {
  /** Saves one successful attempt; false when it no longer owned its request (nothing written). */
  complete(c: Completion): Promise<boolean>
  /** Groups saved so far and their members (monitoring of the grouping). */
  stats(): { groups: number; members: number }
}

export function startCompleter(db: Db, boss: PgBoss): Completer {
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
        const outcomes = await completeAttempts(db, boss, group.map((w) => w.c))
          .catch((err: unknown) => group.map((): PromiseSettledResult<boolean> => ({ status: 'rejected', reason: err })))
        outcomes.forEach((o, i) => (o.status === 'fulfilled' ? group[i]!.resolve(o.value) : group[i]!.reject(o.reason)))
      }
    } finally {
      running = false
    }
  }
  return {
    complete(c) {
      return new Promise<boolean>((resolve, reject) => {
        waiting.push({ c, resolve, reject })
        if (!running) void drain()
      })
    },
    stats: () => ({ groups, members }),
  }
}
