// OpenAPI document generated from the route schemas, at /api/schema/, and Swagger UI at /api/docs/.
// What every operation needs for a client generator is derived here, once, from each route:
// its operationId (from method + URL), its security (from the authentication hook it runs), its
// tags, and the error responses it can give (DRF shapes, as components). A route's own schema
// wins where it says any of these itself.
import { AUTHENTICATED } from '../schemas/users.ts'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import { errorResponseOf, errorResponses, errorSchemas } from '../schemas/errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Schema parts for the document only, for what a handler checks itself (a feature's input, read after multipart). */
    openapi?: { body?: unknown }
  }
}

type Security = Array<Record<string, string[]>>
type Hook = (...args: any[]) => unknown
type OpenApiSchema = FastifySchema & {
  hide?: boolean
  operationId?: string
  tags?: string[]
  security?: Security
  response?: Record<string, unknown>
}

// Not `import … from 'node:http'`: the ES module face of node:http reads every export, and one of
// them loads Node's whole fetch/WebSocket client (undici), ~40 ms of start-up for a status text table.
const { STATUS_CODES } = process.getBuiltinModule('node:http')
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH'])
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** The request hooks in which a route can authenticate. */
const AUTH_HOOKS = ['onRequest', 'preParsing', 'preValidation', 'preHandler']
/** URL words that already name the action, at the end of a URL (`…/create/`, `…/list/`, `…/delete/:id/`). */
const SAYS_ACTION: Record<string, string[]> = { list: ['list'], create: ['create'], destroy: ['delete', 'destroy'], update: ['update'] }

const words = (segment: string) => segment.split(/[-_.]/).filter(Boolean)
const camel = (parts: string[]) =>
  parts.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase())).join('')

function isList(schema: OpenApiSchema): boolean {
  const ok = schema.response?.['200'] as { type?: string; properties?: Record<string, unknown> } | undefined
  return ok?.type === 'array' || Boolean(ok?.properties?.results && ok.properties.count)
}

/**
 * drf-spectacular's naming, camelCased: the URL's words after `/api/v1/` (parameters left out)
 * plus the action (list, retrieve, create, update, partialUpdate, destroy), unless the URL's
 * last word already says it: POST /api/v1/auth/login/ → authLoginCreate, GET
 * /api/v1/text-stats/status/:id/ → textStatsStatusRetrieve, POST /api/v1/text-stats/create/ → textStatsCreate.
 */
export function operationIdOf(method: string, url: string, schema: OpenApiSchema = {}): string {
  const segments = url.replace(/^\/api(\/v\d+)?(?=\/|$)/, '').split('/').filter(Boolean)
  const endsWithParam = segments.at(-1)?.startsWith(':') ?? false
  const parts = segments.filter((s) => !s.startsWith(':') && s !== '*').flatMap(words)
  const action = {
    GET: endsWithParam || !isList(schema) ? 'retrieve' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'partial_update',
    DELETE: 'destroy',
  }[method] ?? method.toLowerCase()
  const already = SAYS_ACTION[action]?.includes(parts.at(-1) ?? '') ?? false
  return camel(already ? parts : [...parts, ...words(action)])
}

/** The hooks a route runs: its own, and those of the plugin instance that registered it. */
function routeHooks(route: RouteOptions, instance: FastifyInstance | undefined): Hook[] {
  const own = AUTH_HOOKS.flatMap((name) => [(route as any)[name] ?? []].flat())
  // Fastify has no public way to list an instance's hooks (plugin-level `addHook('onRequest',
  // app.requireStaff)`); its hooks live under this symbol. test/system/openapi.test.ts checks the
  // result against the real behaviour (401 without a key), so a change in Fastify shows up there.
  const symbol = instance && Object.getOwnPropertySymbols(instance).find((s) => s.description === 'fastify.hooks')
  const hooks = symbol ? (instance as any)[symbol] : null
  const inherited = hooks ? AUTH_HOOKS.flatMap((name) => hooks[name] ?? []) : []
  return [...own, ...inherited]
}

export default fp(async (app) => {
  // Which plugin instance registered each route: its hooks say whether the route authenticates.
  const registeredBy = new WeakMap<object, FastifyInstance>()
  app.addHook('onRoute', function (this: FastifyInstance, route) {
    registeredBy.set(route, this)
  })
  // Error responses of each operation, by operationId, added as $refs once the document is built.
  const errorsOf = new Map<string, number[]>()

  function transform({ schema: given, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }) {
    const schema = { ...(given ?? {}) } as OpenApiSchema
    if (schema.hide) return { schema, url }
    const method = ([] as string[]).concat(route.method)[0]!.toUpperCase()
    const hooks = routeHooks(route, registeredBy.get(route))
    const staff = hooks.includes(app.requireStaff)
    const authenticated = staff || hooks.includes(app.authenticate)

    const documented = route.config?.openapi
    if (documented?.body && !schema.body) schema.body = documented.body
    schema.operationId ??= operationIdOf(method, url, schema)
    schema.tags ??= [words(url.replace(/^\/api(\/v\d+)?/, '').split('/').find(Boolean) ?? 'api').join('-')]
    schema.security ??= authenticated ? AUTHENTICATED : []

    // Every request can be refused for its Host header (ALLOWED_HOSTS) or fail on the server.
    const codes = new Set<number>([400, 500])
    const response: Record<string, unknown> = {}
    for (const [code, body] of Object.entries(schema.response ?? {})) {
      const status = Number(code)
      if (errorResponseOf[status]) codes.add(status)
      else response[code] = body // a success, or an error of the route's own shape (readyz's 503)
    }
    if (authenticated) codes.add(401)
    if (staff || (authenticated && UNSAFE_METHODS.has(method))) codes.add(403) // not staff; the cookie's CSRF check
    if (url.includes('/:')) codes.add(404) // a malformed or unknown id
    if (BODY_METHODS.has(method)) codes.add(413).add(415) // any body is parsed: too large, wrong type
    errorsOf.set(schema.operationId, [...codes].sort())
    schema.response = Object.keys(response).length > 0 ? response : undefined
    return { schema, url }
  }

  function transformObject({ openapiObject }: { openapiObject: any }) {
    const seen = new Map<string, string>()
    for (const [path, item] of Object.entries<Record<string, any>>(openapiObject.paths ?? {})) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const where = `${method.toUpperCase()} ${path}`
        const clash = seen.get(operation.operationId)
        if (clash) throw new Error(`operationId ${operation.operationId} of ${where} is also that of ${clash}: give one of them its own`)
        seen.set(operation.operationId, where)
        for (const [code, response] of Object.entries<any>(operation.responses)) {
          // A success the route did not describe gets its status's name rather than swagger's "Default Response".
          if (response.description === 'Default Response') response.description = STATUS_CODES[code] ?? response.description
        }
        for (const code of errorsOf.get(operation.operationId) ?? []) {
          operation.responses[code] = { $ref: `#/components/responses/${errorResponseOf[code]}` }
        }
      }
    }
    return openapiObject
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'Conveyor API', version: app.config.version, description: 'Conveyor HTTP API (v1)' },
      // Relative: the document describes the deployment that serves it.
      servers: [{ url: '/', description: 'This deployment' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: '`Authorization: Bearer <key>` (or `Token <key>`)' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'conveyor_token', description: 'The HttpOnly cookie set by login and registration; unsafe methods also need `X-Requested-With: XMLHttpRequest`' },
        },
        schemas: errorSchemas,
        responses: errorResponses as any,
      },
    },
    transform: transform as any,
    transformObject: transformObject as any,
  })
  // Swagger UI's routes get a CSP of their own, set by the plugin in its scope over security.ts's:
  // its bundle injects <style> elements, so styles may be inline there (scripts still may not).
  // No upgrade-insecure-requests: the docs must load on plain-HTTP development servers too.
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    transformStaticCSP: (header) => header
      .replace(/\s*upgrade-insecure-requests;?/, '')
      .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
      .replace(/style-src ([^;]*);/, "style-src $1 'unsafe-inline';").replace(/ +/g, ' '),
  })
  app.get('/api/schema/', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
