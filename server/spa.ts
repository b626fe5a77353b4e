// Serves the built Vue app: hashed assets cached for ever, index.html never cached, with the
// runtime settings injected, so one build runs anywhere.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import type { FastifyReply } from 'fastify'

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

export default fp(async (app) => {
  const dist = clientDist(app.config.root)
  const indexFile = path.join(dist, 'index.html')
  const runtime = {
    apiRoot: '/api/v1/',
    staticRoot: '/',
    environment: app.config.env,
    version: app.config.version,
  }
  // Read once: the build does not change under a running server.
  const template = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : null
  const index = template
    ? template.replace('</head>', `<script>window.__CONVEYOR__=${JSON.stringify(runtime).replace(/</g, '\\u003c')}</script></head>`)
    : NOT_BUILT

  if (template) {
    await app.register(fastifyStatic, {
      root: dist,
      wildcard: false,
      index: false,
      setHeaders(res, file) {
        const hashed = file.includes(`${path.sep}assets${path.sep}`)
        res.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
      },
    })
  }
  app.decorateReply('spa', function (this: FastifyReply) {
    return this.code(200).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(index)
  })
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.spa())
}, { name: 'spa' })
