// Each request's logger (`request.log`), made when a line is written, not for every request.
//
// Fastify gives every request a pino child carrying its `reqId`. Making one costs what pino's child()
// costs: the bindings serialised and run through the redaction paths (logger.ts). For a request
// that logs nothing, which at LOG_LEVEL=warn is nearly every request, that was ~4.5 % of the status
// GET's allocations and ~4 % of its CPU, for nothing (BENCHMARKS.md, "The status GET, profiled"). This
// logger answers the level check itself, from the level the child would have, and makes the real
// child, with the same bindings and options, for the first line that passes it. Lines are
// therefore the same as before, whatever the level; only the silent requests got cheaper.
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino'

type LogFn = (...args: unknown[]) => void

class LazyRequestLogger {
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions
  #real: FastifyBaseLogger | null = null

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #logger(): FastifyBaseLogger {
    return (this.#real ??= this.#parent.child(this.#bindings, this.#options))
  }

  /** Whether a line at `level` would be written: the child's level (a route's logLevel) or the parent's. */
  #enabled(level: Level): boolean {
    if (this.#real) return true
    const values = this.#parent.levels.values
    const threshold = this.#options.level ?? this.#parent.level
    return (values[level] ?? 0) >= (values[threshold] ?? Infinity)
  }

  #write(level: Level, args: unknown[]): void {
    if (this.#enabled(level)) (this.#logger()[level] as LogFn)(...args)
  }

  get level(): string { return this.#real?.level ?? this.#options.level ?? this.#parent.level }
  set level(level: string) { this.#logger().level = level }

  fatal(...args: unknown[]): void { this.#write('fatal', args) }
  error(...args: unknown[]): void { this.#write('error', args) }
  warn(...args: unknown[]): void { this.#write('warn', args) }
  info(...args: unknown[]): void { this.#write('info', args) }
  debug(...args: unknown[]): void { this.#write('debug', args) }
  trace(...args: unknown[]): void { this.#write('trace', args) }
  silent(): void {}
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger { return this.#logger().child(bindings, options) }
}

/** Fastify's `childLoggerFactory` for a pino root logger. */
export const lazyRequestLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) =>
  new LazyRequestLogger(logger as Logger, bindings, options) as unknown as FastifyBaseLogger
