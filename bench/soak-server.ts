// The server under soak (bench/soak.ts): the real start-up (migrations, setup, superuser, engine,
// scheduler, HTTP) in a process of its own, configured from its environment. Over IPC it says where it
// listens and answers samples of itself: heap after a full GC, RSS, open handles, live worker threads.
import { loadConfig, projectRoot } from '../server/config.ts'
import { createLogger } from '../server/logger.ts'
import { start } from '../server/start.ts'
import { liveThreads } from '../worker/index.ts'

type Command = { type: 'sample' } | { type: 'stop' }

const config = loadConfig(process.env, projectRoot)
const running = await start(config, createLogger(config))
process.send!({ type: 'ready', url: running.url })

process.on('message', (command: Command) => {
  if (command.type === 'sample') {
    ;(globalThis as { gc?: () => void }).gc?.() // heap figures after a full collection: what is really kept
    const memory = process.memoryUsage()
    const resources = process.getActiveResourcesInfo()
    const byType: Record<string, number> = {}
    for (const r of resources) byType[r] = (byType[r] ?? 0) + 1
    process.send!({ type: 'sample', rss: memory.rss, heapUsed: memory.heapUsed, handles: resources.length, byType, threads: liveThreads() })
  } else if (command.type === 'stop') {
    running.stop().then(() => process.exit(0), () => process.exit(1))
  }
})
