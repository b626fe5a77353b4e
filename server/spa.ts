// Serves the built Vue app: hashed assets cached for ever, index.html never cached, with the
// runtime settings injected, so one build runs anywhere.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import type { FastifyReply } from 'fastify'
import type { Config } from './config.ts'

declare module 'fastify' {
  interface FastifyReply {
    /** Sends the SPA's index.html (history-mode fallback). */
    spa(): FastifyReply
  }
}

export const clientDist = (root: string) => path.join(root, 'client', 'dist')

const NOT_BUILT = `<!doctype html><html><head><meta charset="utf-8"><title>Conveyor</title></head>
<body><h1>Conveyor</h1><p>The API is running (<a href="/api/docs/">API docs</a>).
The web client is not built: run <code>npm run build</code>.</p></body></html>`

/** The built assets' folder (Vite's assetsDir), as a URL prefix. */
export const ASSETS_PREFIX = '/assets/'

/**
 * The body of the one inline script of index.html: the runtime settings. A pure function of the
 * configuration, so security.ts allows exactly this script by its hash in the CSP.
 */
export function runtimeConfigScript(config: Pick<Config, 'env' | 'version'>): string {
  const runtime = { apiRoot: '/api/v1/', staticRoot: '/', environment: config.env, version: config.version }
  return `window.__CONVEYOR__=${JSON.stringify(runtime).replace(/</g, '\\u003c')}`
}

/**
 * A GET the history-mode fallback must not answer: a path under the assets' folder or with a file
 * extension that named no file (an old client asking for a chunk of a previous build gets a 404,
 * never index.html). An extension is 1 to 8 letters or digits after the last dot of the last
 * segment: a client route's parameter may hold dots (an e-mail verification key is
 * `<uid>.<expiry>.<43-character signature>`), never such a short tail.
 */
export function isMissingFile(url: string): boolean {
  const pathname = url.split('?')[0]!
  return pathname.startsWith(ASSETS_PREFIX) || /\.[A-Za-z0-9]{1,8}$/.test(pathname.slice(pathname.lastIndexOf('/') + 1))
}

export default fp(async (app) => {
  const dist = clientDist(app.config.root)
  const indexFile = path.join(dist, 'index.html')
  // Read once: the build does not change under a running server.
  const template = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : null
  const index = template
    ? template.replace('</head>', `<script>${runtimeConfigScript(app.config)}</script></head>`)
    : NOT_BUILT

  if (template) {
    // The build's files are index.html (sent by reply.spa(), with the runtime settings) and its
    // assets: one wildcard route serves the assets' folder. (With `wildcard: false` the plugin globbed
    // the build and made a GET and a HEAD route per file at every start: ~60 ms for the build's 43,
    // and it served the bare index.html at /index.html.) A file it does not find goes to the
    // not-found handler, which answers a JSON 404 under the assets' folder (isMissingFile).
    await app.register(fastifyStatic, {
      root: path.join(dist, ASSETS_PREFIX),
      prefix: ASSETS_PREFIX,
      wildcard: true,
      index: false,
      setHeaders(res) {
        res.header('cache-control', 'public, max-age=31536000, immutable')
      },
    })
  }
  app.decorateReply('spa', function (this: FastifyReply) {
    return this.code(200).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(index)
  })
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.spa())
}, { name: 'spa' })
