// One pino logger for the process: pretty in development, JSON lines elsewhere. Secrets never reach
// a log line: credentials in headers and bodies are redacted, and so are the tokens that ride in
// URLs (the SPA's reset and verification links, OAuth codes), which the request log would record.
import { pino, type DestinationStream, type Logger } from 'pino'
import type { Config } from './config.ts'

export type { Logger }

const SECRET_PATH = /\/(password-reset|verify-email)\/[^?#]*/g
const SECRET_PARAM = /([?&](?:code|state|token|key|password|secret|uid)=)[^&#]*/gi

/** A request URL fit for a log line: path tokens and secret-looking query values masked. */
export function logSafeUrl(url: string): string {
  return url.replace(SECRET_PATH, '/$1/[redacted]').replace(SECRET_PARAM, '$1[redacted]')
}

interface LoggedRequest {
  method: string
  url: string
  host?: string
  ip?: string
  headers?: Record<string, unknown>
  socket?: { remotePort?: number }
}

/** Fastify's own request serializer, with the URL made safe. */
function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: logSafeUrl(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }
}

export function createLogger(config: Pick<Config, 'env' | 'logLevel'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token', '*.key', '*.secretKey', '*.smtpUrl'],
      censor: '[redacted]',
    },
    serializers: { req: serializeRequest },
  }
  if (destination) return pino(options, destination)
  return pino({
    ...options,
    ...(config.env === 'development' && process.stdout.isTTY
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  })
}
