// GET <feature>/events/<id>/: Server-Sent Events of a request's status, fed by the process's shared
// LISTEN connection, so a change made on any instance arrives. The current status comes at once;
// the stream ends after a terminal status or when the client goes away.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { findStatus, isTerminal, type Feature } from '../../../worker/index.ts'
import { notFound } from '../../http/errors.ts'
import { IdParams, toStatus, type RequestStatusBody } from '../../schemas/requests.ts'

// A comment line now and then keeps proxies and load balancers from closing an idle stream.
const KEEPALIVE_MS = 15_000

/**
 * Where a status stands in a request's life, so that an event older than one already sent (possible
 * only around the initial read) is dropped: attempt, then pending < processing < pending again
 * after a failed attempt (it carries the error) < finished, then progress.
 */
export function lifeOrder(s: RequestStatusBody): number {
  const rank = s.status === 'pending' ? (s.error_message ? 2 : 0) : s.status === 'processing' ? 1 : 3
  return s.attempts * 1000 + rank * 101 + s.progress
}

const eventRoutes: FastifyPluginAsyncTypebox<{ feature: Feature }> = async (app, { feature }) => {
  const { db } = app
  // Open streams end when the app closes: they would otherwise hold the server open, and an
  // EventSource reconnects (to another instance, in a rolling restart) on its own.
  const streams = new Set<() => void>()
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    for (const close of streams) close()
  })

  app.get('/events/:id/', {
    onRequest: app.authenticate,
    schema: {
      tags: [feature.name], summary: 'Live status (text/event-stream)', params: IdParams,
      response: { 200: { description: '`event: status` with the status body as `data:`, at once and on each change; ends after a terminal status', content: { 'text/event-stream': { schema: Type.String() } } } },
    },
  }, async (request, reply) => {
    const ownerId = request.user!.id
    const { id } = request.params
    const hub = await app.requestEvents()
    // Subscribe before reading the current row, so that no change can slip between the two; what
    // arrives meanwhile is sent after the row.
    let early: RequestStatusBody[] | null = []
    const cleanups: (() => void)[] = [hub.subscribe(id, (event) => (early ? early.push(toStatus(event)) : send(toStatus(event))))]
    const first = await findStatus(db, id, ownerId).catch((err) => { cleanups[0]!(); throw err })
    if (!first || first.feature !== feature.name) {
      cleanups[0]!()
      throw notFound()
    }

    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
    })
    let last = ''
    let lastOrder = -1
    let open = true
    const close = () => {
      if (!open) return
      open = false
      cleanups.forEach((c) => c())
      res.end()
    }
    streams.add(close)
    cleanups.push(() => streams.delete(close))
    const send = (status: RequestStatusBody) => {
      if (!open) return
      const order = lifeOrder(status)
      if (order < lastOrder) return
      lastOrder = order
      const data = JSON.stringify(status)
      if (data !== last) {
        last = data
        res.write(`event: status\ndata: ${data}\n\n`)
      }
      if (isTerminal(status.status)) close()
    }
    const reread = async () => {
      const row = await findStatus(db, id, ownerId).catch(() => null)
      if (row) send(toStatus(row))
      else close() // deleted
    }
    cleanups.push(hub.onResync(() => void reread()))
    const keepalive = setInterval(() => { if (open) res.write(': keep-alive\n\n') }, KEEPALIVE_MS)
    cleanups.push(() => clearInterval(keepalive))
    res.on('close', close)
    send(toStatus(first))
    const arrived = early
    early = null
    for (const status of arrived) send(status)
    // Opened while the app was closing: it got the current status, and it ends now.
    if (closing) close()
  })
}

export default eventRoutes
