// Service plugin: live request events for SSE, on the process's shared LISTEN connection
// (worker/requests/events.ts), taken on the first subscriber and released when the app closes.
import fp from 'fastify-plugin'
import { acquireRequestEvents, type RequestEvents } from '../../worker/index.ts'
import { HttpError } from '../http/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The events hub; 503 once the app is closing (a new LISTEN would outlive it). */
    requestEvents(): Promise<RequestEvents>
  }
}

export default fp(async (app) => {
  let live: ReturnType<typeof acquireRequestEvents> | null = null
  let closed = false
  app.decorate('requestEvents', async () => {
    if (closed) throw new HttpError(503, { detail: 'The server is shutting down.' })
    return (await (live ??= acquireRequestEvents(app.boss, app.log))).events
  })
  app.addHook('onClose', async () => {
    closed = true
    if (live) await (await live.catch(() => null))?.release()
  })
}, { name: 'events', dependencies: ['boss'] })
