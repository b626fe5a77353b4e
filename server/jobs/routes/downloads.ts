// Downloads as attachments: the result document (JSON, or CSV where the feature declares it) and each
// output file. A file is served only if the request's results list it AND its path stays inside the
// request's output folder: no name a client sends can reach anything else.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { findResult, findStatus, insideDir, outputDir, resultOf, type Feature } from '../../../worker/index.ts'
import { conflict, notFound, validationFailed } from '../../http/errors.ts'
import { ConflictErrorSchema } from '../../schemas/errors.ts'
import { IdParams } from '../../schemas/requests.ts'

/** Content-Disposition for a file name, ASCII fallback plus RFC 5987 UTF-8 form. */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

const downloadRoutes: FastifyPluginAsyncTypebox<{ feature: Feature }> = async (app, { feature }) => {
  const { db, config } = app
  const tags = [feature.name]

  async function completedResult(id: string, ownerId: number) {
    const row = await findStatus(db, id, ownerId)
    if (!row || row.feature !== feature.name) throw notFound()
    const result = row.status === 'completed' ? await findResult(db, id) : undefined
    if (!result) throw conflict('Results are not ready.', { status: row.status })
    return result
  }

  app.get('/download-results/:id/', {
    onRequest: app.authenticate,
    schema: {
      tags, summary: 'The result document as an attachment', params: IdParams,
      querystring: Type.Object({ format: Type.Optional(Type.String()) }),
      response: {
        200: {
          description: 'The result document (`format=json`), or CSV (`format=csv`) where the feature supports it',
          content: { 'application/json': { schema: {} }, 'text/csv': { schema: Type.String() } },
        },
        409: ConflictErrorSchema,
      },
    },
  }, async (request, reply) => {
    const format = request.query.format ?? 'json'
    const formats: string[] = resultOf(feature).downloads
    if (!formats.includes(format)) throw validationFailed({ format: [`"${format}" is not a valid choice.`] })
    const result = await completedResult(request.params.id, request.user!.id)
    const base = `${feature.name}-${request.params.id}`
    reply.header('content-disposition', attachment(`${base}.${format}`))
    if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(feature.toCsv!(result.data))
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(result.data, null, 2))
  })

  app.get('/download-file/:id/:name/', {
    onRequest: app.authenticate,
    schema: {
      tags, summary: 'One output file as an attachment', params: Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() }),
      response: {
        200: { description: 'The file, in its own content type', content: { 'application/octet-stream': { schema: Type.Unsafe<unknown>({ type: 'string', format: 'binary' }) } } },
        409: ConflictErrorSchema,
      },
    },
  }, async (request, reply) => {
    const { id, name } = request.params
    const result = await completedResult(id, request.user!.id)
    const file = result.files.find((f) => f.name === name)
    // The stored id, not the path's: a UUID may arrive in capitals, the folder is named in lower case.
    const full = file ? insideDir(outputDir(config.mediaRoot, result.request_id), file.name) : null
    const info = full ? await stat(full).catch(() => null) : null
    if (!file || !full || !info?.isFile()) throw notFound()
    return reply
      .header('content-disposition', attachment(file.name))
      .header('content-length', info.size)
      .type(file.content_type)
      .send(createReadStream(full))
  })
}

export default downloadRoutes
