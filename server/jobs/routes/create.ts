// POST <feature>/create/: JSON input, or multipart with a `file` part; idempotent with Idempotency-Key.
import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { ProcessingRequest } from '../../../db/types.ts'
import { createRequest, findByIdempotencyKey, localEnqueued, removeRequestFiles, type Feature } from '../../../worker/index.ts'
import { conflict, notFound, validationFailed } from '../../http/errors.ts'
import { CreatedSchema, toCreated } from '../../schemas/requests.ts'
import { readMultipart } from '../uploads.ts'
import { ConflictErrorSchema } from '../../schemas/errors.ts'

const statusUrl = (row: ProcessingRequest) => `/api/v1/${row.feature}/status/${row.id}/`
const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505'

const createRoute: FastifyPluginAsyncTypebox<{ feature: Feature }> = async (app, { feature }) => {
  const { db, boss, config } = app

  function existing(reply: FastifyReply, row: ProcessingRequest) {
    if (row.feature !== feature.name) throw conflict('This Idempotency-Key was used for another feature.')
    return reply.code(200).header('location', statusUrl(row)).send(toCreated(row))
  }

  // Documented, not validated by Fastify: the input is checked after a multipart body is read.
  const upload = Type.Unsafe<unknown>({ type: 'string', format: 'binary', description: `The upload (${feature.file?.extensions.join(', ')})` })
  const body = {
    content: {
      'application/json': { schema: feature.input },
      ...(feature.file && {
        'multipart/form-data': { schema: Type.Object({ ...feature.input.properties, file: feature.file.required ? upload : Type.Optional(upload) }) },
      }),
    },
  }

  app.post('/create/', {
    onRequest: app.authenticate,
    config: { openapi: { body } },
    schema: {
      tags: [feature.name], summary: `Create a ${feature.title} request`,
      description: `JSON body, or multipart/form-data with${feature.file ? ' a `file` part and' : ''} fields. Input: ${JSON.stringify(feature.input)}`,
      response: { 200: CreatedSchema, 202: CreatedSchema, 409: ConflictErrorSchema },
    },
  }, async (request, reply) => {
    const ownerId = request.user!.id
    // System features (maintenance) are staff's; to anyone else they do not exist.
    if (feature.system && !request.user!.is_staff) throw notFound()
    const keyHeader = request.headers['idempotency-key']
    const key = typeof keyHeader === 'string' ? keyHeader.trim() : null
    if (key !== null && (key.length === 0 || key.length > 255)) {
      throw validationFailed({ 'Idempotency-Key': ['Ensure this value has between 1 and 255 characters.'] })
    }
    if (key) {
      const found = await findByIdempotencyKey(db, ownerId, key)
      if (found) return existing(reply, found)
    }
    const id = randomUUID()
    const multipart = request.isMultipart()
    try {
      const { fields, upload } = multipart
        ? await readMultipart(request, feature, id, config.mediaRoot, config.uploadLimit, config.bodyLimit)
        : { fields: request.body, upload: null }
      // One statement on the pool: the row and its job commit together (see createRequest).
      const row = await createRequest(db, boss, {
        id, ownerId, feature: feature.name, input: fields, upload, idempotencyKey: key, coerce: multipart,
      })
      // This instance's engine fetches at once (and skips the row's NOTIFY); others hear the NOTIFY.
      localEnqueued(feature.name, row.id)
      app.metrics.job(feature.name, 'created') // one statement on the pool: committed
      return reply.code(202).header('location', statusUrl(row)).send(toCreated(row))
    } catch (err) {
      if (multipart) await removeRequestFiles(config.mediaRoot, id).catch(() => {})
      // Two creates with the same key at once: the loser answers with the winner's request.
      if (key && isUniqueViolation(err)) {
        const found = await findByIdempotencyKey(db, ownerId, key)
        if (found) return existing(reply, found)
      }
      throw err
    }
  })
}

export default createRoute
