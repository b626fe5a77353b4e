// The ceiling for the authenticated status GET: a bare Fastify route doing the same primary-key
// query on the same database (no auth, no schemas, no hooks). Started by bench/suite.ts as its own
// process; prints its URL on stdout and serves until killed.
import Fastify from 'fastify'
import pg from 'pg'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL ?? 10) })
const app = Fastify({ logger: false })
app.get('/status/:id/', async (request) => {
  const { rows } = await pool.query(
    'SELECT id, feature, status, progress, error_message, attempts, schedule_id, created_at, started_at, finished_at FROM processing_requests WHERE id = $1',
    [(request.params as { id: string }).id])
  return rows[0]
})
const url = await app.listen({ host: '127.0.0.1', port: 0 })
console.log(url)
