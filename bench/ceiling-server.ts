// The ceiling for the authenticated status GET: a bare Fastify route doing the same primary-key
// query (same columns, same owner condition; also as a named statement, as Conveyor sends it) on the same database with a pool of the same size as
// Conveyor's (DATABASE_POOL_SIZE's default, 20) — no auth, no schemas, no hooks. Started by
// bench/suite.ts as its own process; prints its URL on stdout and serves until killed.
import Fastify from 'fastify'
import pg from 'pg'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL ?? 20) })
const app = Fastify({ logger: false })
const STATUS = 'SELECT id, owner_id, feature, status, progress, error_message, attempts, schedule_id, created_at, started_at, finished_at FROM processing_requests WHERE id = $1 AND owner_id = $2'
app.get('/status/:owner/:id/', async (request) => {
  const { owner, id } = request.params as { owner: string; id: string }
  const { rows } = await pool.query(STATUS, [id, Number(owner)])
  return rows[0]
})
// The same with a named statement (parsed and planned once per connection), as Conveyor sends it.
async function named(params: unknown) {
  const { owner, id } = params as { owner: string; id: string }
  const { rows } = await pool.query({ name: 'status', text: STATUS, values: [id, Number(owner)] })
  return rows[0]
}
app.get('/status-named/:owner/:id/', async (request) => named(request.params))
// The same again with the response headers Conveyor sent for this route (the suite passes them in
// CEILING_HEADERS: security headers, request id), set on the raw response as Conveyor sets them.
// What is left between this route and Conveyor's is the request pipeline itself.
const extra = Object.entries(JSON.parse(process.env.CEILING_HEADERS ?? '{}') as Record<string, string>)
app.get('/status-headers/:owner/:id/', async (request, reply) => {
  for (const [name, value] of extra) reply.raw.setHeader(name, value)
  return named(request.params)
})
const url = await app.listen({ host: '127.0.0.1', port: 0 })
console.log(url)
// A clean exit when the suite stops it (so that `--cpu-prof` in NODE_OPTIONS writes a profile).
process.once('SIGTERM', () => process.exit(0))
