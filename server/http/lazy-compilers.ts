// Route schemas compiled on a route's first request instead of all at start-up. Fastify compiles
// every route's validators (ajv) and response serializers (fast-json-stringify, which makes an ajv
// instance of its own for each response schema) while the app is built: about 150 ms of CPU before
// /readyz, and the generated code of ~100 routes in memory, most of which an instance may never
// serve (admin, schedules, OIDC…). Here each compiler returns a stand-in that compiles on its
// first call and then delegates to the compiled function, so what is compiled is what is used.
// A schema that cannot compile then fails its route's first request (a 500, logged) instead of
// the start: `compileAll()` compiles every pending one at once (a test calls it on the whole app).
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type Compile<A, F> = (args: A) => F
// Any validator function (ajv's takes a data context as its second argument).
type Validate = ((...args: any[]) => unknown) & { errors?: unknown }
type Serialize = (data: unknown) => string

export interface LazyCompilers {
  /** For app.setValidatorCompiler: `compile` run on each route part's first validation. */
  validator<A>(compile: Compile<A, Validate>): Compile<A, Validate>
  /**
   * For the `schemaController.compilersFactory.buildSerializer` server option: Fastify's own
   * serializer factory (fast-json-stringify, with the shared schemas and serializer options),
   * each route's serializer compiled on its first response.
   */
  serializerFactory(externalSchemas: unknown, serializerOpts: unknown): Compile<any, Serialize>
  /** Compiles every stand-in that has not compiled yet; throws the first error. */
  compileAll(): void
  /** How many stand-ins have not compiled yet. */
  pending(): number
}

export function lazyCompilers(): LazyCompilers {
  const pending = new Set<() => unknown>()
  const once = <F>(build: () => F): (() => F) => {
    let fn: F | undefined
    const compile = (): F => {
      if (fn === undefined) {
        fn = build()
        pending.delete(compile)
      }
      return fn
    }
    pending.add(compile)
    return compile
  }
  const serializers = SerializerSelector()
  return {
    validator: (compile) => (args) => {
      const compiled = once(() => compile(args))
      const validate = function (this: unknown, ...call: unknown[]) { return compiled().apply(this, call) } as Validate
      // What Fastify reads from a validator: `errors` after a failure, `schemaEnv` (ajv's) to pass the parent data.
      for (const key of ['errors', 'schemaEnv', 'schema']) {
        Object.defineProperty(validate, key, { get: () => (compiled() as unknown as Record<string, unknown>)[key] })
      }
      return validate
    },
    serializerFactory: (externalSchemas, serializerOpts) => {
      const compile = serializers(externalSchemas as never, serializerOpts as never) as Compile<any, Serialize>
      return (args) => {
        const compiled = once(() => compile(args))
        return (data) => compiled()(data)
      }
    },
    compileAll: () => {
      for (const compile of [...pending]) compile()
    },
    pending: () => pending.size,
  }
}
