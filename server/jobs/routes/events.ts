// GET <feature>/events/<id>/: Server-Sent Events of a request's status, fed by the process's shared
// LISTEN connection, so a change made on any instance arrives. The current status comes at once;
// the stream ends after a terminal status or when the client goes away. The job log's lines come as
// `event: log` (data: {"at", "attempt", "level", "message"}): the stored ones after the first status,
// then each new one as its engine stores it. Staff may follow any user's request (the admin view).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { findStatus, isTerminal, readLogs, type Feature, type LogEvent } from '../../../worker/index.ts'
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
    const ownerId = request.user!.is_staff ? null : request.user!.id
    const { id } = request.params
    const hub = await app.requestEvents()
    // Subscribe before reading the current row and log, so that no change can slip between them;
    // what arrives meanwhile is sent after them, in arrival order.
    type Early = { status: RequestStatusBody } | { log: LogEvent }
    let early: Early[] | null = []
    const cleanups: (() => void)[] = [
      hub.subscribe(id, (event) => (early ? early.push({ status: toStatus(event) }) : send(toStatus(event)))),
      hub.subscribeLogs(id, (line) => (early ? early.push({ log: line }) : sendLog(line))),
    ]
    const unsubscribe = () => cleanups.forEach((c) => c())
    const first = await findStatus(db, id, ownerId).catch((err) => { unsubscribe(); throw err })
    if (!first || first.feature !== feature.name) {
      unsubscribe()
      throw notFound()
    }
    const stored = await readLogs(db, id).catch((err) => { unsubscribe(); throw err })

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
    let latest: RequestStatusBody | null = null
    let open = true
    const close = () => {
      if (!open) return
      open = false
      cleanups.forEach((c) => c())
      res.end()
    }
    streams.add(close)
    cleanups.push(() => streams.delete(close))
    const send = (status: RequestStatusBody, closeIfTerminal = true) => {
      if (!open) return
      const order = lifeOrder(status)
      if (order < lastOrder) return
      lastOrder = order
      latest = status
      const data = JSON.stringify(status)
      if (data !== last) {
        last = data
        res.write(`event: status\ndata: ${data}\n\n`)
      }
      if (closeIfTerminal && isTerminal(status.status)) close()
    }
    // The newest line sent per attempt: a line both stored and announced is sent once.
    const sentSeq = new Map<number, number>()
    const sendLog = (line: LogEvent) => {
      if (!open || (line.seq > 0 && line.seq <= (sentSeq.get(line.attempt) ?? 0))) return
      if (line.seq > 0) sentSeq.set(line.attempt, line.seq)
      const { at, attempt, level, message } = line
      res.write(`event: log\ndata: ${JSON.stringify({ at, attempt, level, message })}\n\n`)
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
    // The current status at once; then the stored log; then what arrived meanwhile. An already
    // finished request's stream ends after its log.
    send(toStatus(first), false)
    for (const line of stored) sendLog(line)
    const arrived = early
    early = null
    for (const item of arrived) if ('log' in item) sendLog(item.log); else send(item.status, false)
    const now = latest as RequestStatusBody | null
    if (now && isTerminal(now.status)) close()
    // Opened while the app was closing: it got the current status, and it ends now.
    if (closing) close()
  })
}

export default eventRoutes
