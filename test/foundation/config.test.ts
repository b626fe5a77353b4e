// Configuration: one validated object from the environment; bad settings name every problem.
import t from 'tap'
import { ConfigError, DEVELOPMENT_SECRET_KEY, loadConfig } from '../../server/config.ts'

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

t.test('development is the default profile and needs nothing configured', async (t) => {
  const c = loadConfig({})
  t.equal(c.env, 'development')
  t.equal(c.databaseUrl, null, 'no database configured: the embedded one will be used')
  t.equal(c.port, 8000)
  t.equal(c.role, 'all')
  t.ok(c.workerThreads >= 1)
  t.equal(c.secretKey, DEVELOPMENT_SECRET_KEY)
})

t.test('DATABASE_URL is built from POSTGRES_* parts, with the password encoded', async (t) => {
  const c = loadConfig({ POSTGRES_HOST: 'db', POSTGRES_USER: 'app', POSTGRES_PASSWORD: 'p@ss/word', POSTGRES_DB: 'conv', POSTGRES_PORT: '6543' })
  t.equal(c.databaseUrl, 'postgres://app:p%40ss%2Fword@db:6543/conv')
  const whole = loadConfig({ DATABASE_URL: 'postgres://x@h/d', POSTGRES_HOST: 'ignored' })
  t.equal(whole.databaseUrl, 'postgres://x@h/d', 'a whole DATABASE_URL wins')
})

t.test('each bad variable is reported on its own line, all at once', async (t) => {
  const problems = problemsOf({ PORT: 'eighty', ROLE: 'boss', WORKER_THREADS: '0', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' })
  t.equal(problems.length, 5)
  for (const expected of [/^PORT: must be an integer between 0 and 65535 \(got "eighty"\)$/, /^ROLE: must be one of api, worker, all \(got "boss"\)$/,
    /^WORKER_THREADS: must be an integer between 1 and 256/, /^LOG_LEVEL: must be one of fatal, error/, /^DATABASE_URL: must be a value matching/]) {
    t.ok(problems.some((p) => expected.test(p)), `reports ${expected}`)
  }
})

t.test('JOB_AHEAD_MS: 10 by default, 0 turns taking jobs ahead off, past 1000 is refused', async (t) => {
  t.equal(loadConfig({}).jobAheadMs, 10)
  t.equal(loadConfig({ JOB_AHEAD_MS: '0' }).jobAheadMs, 0)
  t.match(problemsOf({ JOB_AHEAD_MS: '5000' }), [/^JOB_AHEAD_MS: must be an integer between 0 and 1000/])
  t.match(problemsOf({ JOB_AHEAD_MS: '-1' }), [/^JOB_AHEAD_MS: must be an integer between 0 and 1000/])
})

t.test('booleans accept the usual spellings and nothing else', async (t) => {
  t.equal(loadConfig({ ALLOW_REGISTRATION: 'false' }).allowRegistration, false)
  t.equal(loadConfig({ ALLOW_REGISTRATION: 'YES' }).allowRegistration, true)
  t.match(problemsOf({ ALLOW_REGISTRATION: 'maybe' }), [/^ALLOW_REGISTRATION: must be true or false/])
})

const PRODUCTION = {
  NODE_ENV: 'production', DATABASE_URL: 'postgres://h/d', SECRET_KEY: 'k'.repeat(40), ALLOWED_HOSTS: 'x.org',
  FRONTEND_URL: 'https://x.org', SMTP_URL: 'smtp://mail.x.org:587',
}

t.test('production requires an external database, a real SECRET_KEY, ALLOWED_HOSTS, FRONTEND_URL and SMTP_URL', async (t) => {
  const problems = problemsOf({ NODE_ENV: 'production' })
  t.ok(problems.some((p) => p.startsWith('DATABASE_URL: required in production')))
  t.ok(problems.some((p) => p === 'SECRET_KEY: required in production'))
  t.ok(problems.some((p) => p.startsWith('ALLOWED_HOSTS: required in production')))
  t.ok(problems.some((p) => p.startsWith('FRONTEND_URL: required in production')))
  t.ok(problems.some((p) => p.startsWith('SMTP_URL: required in production')))
  const devKey = problemsOf({ ...PRODUCTION, SECRET_KEY: DEVELOPMENT_SECRET_KEY })
  t.same(devKey, ['SECRET_KEY: the development default is refused in production'])
  const ok = loadConfig(PRODUCTION)
  t.equal(ok.host, '0.0.0.0')
  t.same(ok.allowedHosts, ['x.org'])
  t.equal(ok.frontendUrl, 'https://x.org')
  t.equal(ok.emailBackend, 'smtp')
})

t.test('production refuses ALLOWED_HOSTS=*, alone or in a list', async (t) => {
  for (const hosts of ['*', 'x.org, *']) {
    t.match(problemsOf({ ...PRODUCTION, ALLOWED_HOSTS: hosts }), [/^ALLOWED_HOSTS: \* is refused in production/], hosts)
  }
  t.same(loadConfig({ ALLOWED_HOSTS: '*' }).allowedHosts, ['*'], 'development may accept any host')
})

t.test('production without SMTP_URL starts only when EMAIL_BACKEND=log is chosen', async (t) => {
  const { SMTP_URL: _, ...noSmtp } = PRODUCTION
  t.match(problemsOf(noSmtp), [/^SMTP_URL: required in production .*EMAIL_BACKEND=log/])
  t.equal(loadConfig({ ...noSmtp, EMAIL_BACKEND: 'log' }).emailBackend, 'log')
  t.equal(loadConfig({ ...PRODUCTION, EMAIL_BACKEND: 'log' }).emailBackend, 'log', 'log chosen over a configured SMTP_URL')
  t.same(problemsOf({ EMAIL_BACKEND: 'smtp' }), ['SMTP_URL: required when EMAIL_BACKEND=smtp'])
  t.match(problemsOf({ EMAIL_BACKEND: 'pigeon' }), [/^EMAIL_BACKEND: must be one of smtp, log/])
  t.equal(loadConfig({}).emailBackend, 'log', 'development without SMTP_URL logs its mail')
})

t.test('links come from FRONTEND_URL, else from HOST and PORT: never from a request', async (t) => {
  t.equal(loadConfig({ FRONTEND_URL: 'https://app.example.org/' }).frontendUrl, 'https://app.example.org', 'no trailing slash')
  t.equal(loadConfig({}).frontendUrl, 'http://127.0.0.1:8000')
  t.equal(loadConfig({ HOST: '0.0.0.0', PORT: '3000' }).frontendUrl, 'http://localhost:3000', 'a wildcard bind address is this machine')
  t.equal(loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://h/d', HOST: 'dev.local' }).frontendUrl, 'http://dev.local:8000')
  t.match(problemsOf({ FRONTEND_URL: 'javascript:alert(1)' }), [/^FRONTEND_URL: must be a value matching/])
})

t.test('ADMIN_EMAIL and ADMIN_PASSWORD come together', async (t) => {
  t.same(problemsOf({ ADMIN_EMAIL: 'root@example.com' }), ['ADMIN_PASSWORD: required when ADMIN_EMAIL is set'])
  t.match(problemsOf({ ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'x' }), [/^ADMIN_EMAIL: must be an e-mail address/])
  t.same(loadConfig({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'pw' }).admin, { email: 'root@example.com', password: 'pw' })
})

t.test('the CLI prints one line per problem and exits 2', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const r = spawnSync(process.execPath, ['server/cli.ts', 'start'], {
    env: { PATH: process.env.PATH, PORT: 'x', NODE_ENV: 'production' }, encoding: 'utf8', timeout: 30_000,
  })
  t.equal(r.status, 2)
  const lines = r.stderr.trim().split('\n')
  t.ok(lines.length >= 4, 'one line per problem')
  t.ok(lines.every((l) => l.startsWith('config error: ')), r.stderr)
  t.ok(lines.some((l) => l.includes('PORT: must be an integer')))
})
