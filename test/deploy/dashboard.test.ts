// npm run dashboard: the pg-boss dashboard against the configured database, behind basic auth,
// refusing to start without DASHBOARD_PASSWORD. A real process on a real port.
import t from 'tap'
import { build } from '../helper.ts'
import { freePort, runNode } from './support.ts'

t.test('the dashboard answers 401 without credentials and 200 with them', async (t) => {
  // build(): a database with Conveyor's schema and pg-boss's (the dashboard reads the latter).
  const { url } = await build(t)
  // The dashboard takes PORT=0 as its default 3000, so it gets a port that was free a moment ago.
  const port = await freePort()
  // The database given in parts, as compose does: resolved by server/config.ts as for the app.
  const db = new URL(url)
  const child = runNode(['server/dashboard.ts'], {
    POSTGRES_HOST: db.hostname, POSTGRES_PORT: db.port, POSTGRES_USER: db.username, POSTGRES_DB: db.pathname.slice(1),
    HOST: '127.0.0.1', DASHBOARD_PORT: String(port), DASHBOARD_PASSWORD: 'dashboard secret',
  })
  t.teardown(async () => {
    child.process.kill('SIGTERM')
    await child.exited
  })
  await child.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/)
  const base = `http://127.0.0.1:${port}`

  const anonymous = await fetch(`${base}/`)
  t.equal(anonymous.status, 401)
  t.match(anonymous.headers.get('www-authenticate'), /^Basic/)
  const wrong = await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from('admin:guess').toString('base64')}` } })
  t.equal(wrong.status, 401, 'a wrong password')
  const authorized = await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from('admin:dashboard secret').toString('base64')}` } })
  t.equal(authorized.status, 200)
  t.match(await authorized.text(), /<html/i)
  t.match(child.output(), `pg-boss dashboard for ${db.host}${db.pathname} (schema pgboss), basic auth as admin`)
})

t.test('the dashboard refuses to start without DASHBOARD_PASSWORD', async (t) => {
  const child = runNode(['server/dashboard.ts'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', DASHBOARD_PORT: String(await freePort()) })
  t.equal(await child.exited, 2)
  t.match(child.output(), /config error: DASHBOARD_PASSWORD: required/)
  t.notMatch(child.output(), /listening/)
})

t.test('the dashboard resolves the database as the app does: none in production is a config error', async (t) => {
  const child = runNode(['server/dashboard.ts'], { NODE_ENV: 'production', DASHBOARD_PASSWORD: 'x' })
  t.equal(await child.exited, 2)
  t.match(child.output(), /config error: DATABASE_URL: required in production/)
})
