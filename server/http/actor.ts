// Who a staff write is recorded as in the audit log: the signed-in user of the request.
import type { FastifyRequest } from 'fastify'
import type { AuditActor } from '../../db/repositories/audit.ts'

export const actorOf = (request: FastifyRequest): AuditActor => ({ id: request.user!.id, email: request.user!.email })
