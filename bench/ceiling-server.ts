// The ceiling for the authenticated status GET: a bare Fastify route doing the same primary-key
// query (same columns, same owner condition) on the same database with a pool of the same size as
// Conveyor's (DATABASE_POOL_SIZE's default, 20) — no auth, no schemas, no hooks. Started by
// bench/suite.ts as its own process; prints its URL on stdout and serves until killed.
import Fastify from 'fastify'
import pg from 'pg'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL ?? 20) })
const app = Fastify({ logger: false })
app.get('/status/:owner/:id/', async (request) => {
  const { owner, id } = request.params as { owner: string; id: string }
  const { rows } = await pool.query(
    'SELECT id, owner_id, feature, status, progress, error_message, attempts, schedule_id, created_at, started_at, finished_at FROM processing_requests WHERE id = $1 AND owner_id = $2',
    [id, Number(owner)])
  return rows[0]
})
const url = await app.listen({ host: '127.0.0.1', port: 0 })
console.log(url)
