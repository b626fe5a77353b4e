// npm run dashboard — the pg-boss dashboard (@pg-boss/dashboard, the original's Flower) on
// DASHBOARD_PORT (5555), against the database Conveyor is configured with (DATABASE_URL or
// POSTGRES_*, resolved by server/config.ts as for the app), always behind basic auth: it can
// retry, cancel and delete jobs, so it refuses to start without DASHBOARD_PASSWORD.
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ConfigError, loadConfig, readEnv, type Config } from './config.ts'
import { BOSS_SCHEMA } from '../worker/index.ts'

/** The dashboard's settings, in the variables it reads itself (its bin/cli.js and build/server.js). */
export function dashboardEnv(config: Config): Record<string, string> {
  const { user, password, port } = config.dashboard
  if (!password) throw new ConfigError(['DASHBOARD_PASSWORD: required: the dashboard can retry, cancel and delete jobs, so it never runs without basic auth'])
  // Development without a configured database: the embedded PostgreSQL of a running `npm start`.
  const databaseUrl = config.databaseUrl ?? `postgres://postgres@127.0.0.1:${config.embeddedPostgres.port}/conveyor`
  return {
    DATABASE_URL: databaseUrl,
    PGBOSS_SCHEMA: BOSS_SCHEMA,
    HOST: config.host,
    PORT: String(port),
    PGBOSS_DASHBOARD_AUTH_USERNAME: user,
    PGBOSS_DASHBOARD_AUTH_PASSWORD: password,
  }
}

async function main(): Promise<void> {
  let env: Record<string, string>
  try {
    env = dashboardEnv(loadConfig(readEnv()))
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const problem of err.problems) console.error(`config error: ${problem}`)
    process.exitCode = 2
    return
  }
  // The dashboard reads its settings from the environment when it is imported.
  Object.assign(process.env, env)
  // In a container this process is PID 1, which has no default signal actions: exit on them.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0))
  const packageDir = path.dirname(fileURLToPath(import.meta.resolve('@pg-boss/dashboard/package.json')))
  console.log(`pg-boss dashboard for ${new URL(env.DATABASE_URL!).host}${new URL(env.DATABASE_URL!).pathname} (schema ${BOSS_SCHEMA}), basic auth as ${env.PGBOSS_DASHBOARD_AUTH_USERNAME}`)
  await import(pathToFileURL(path.join(packageDir, 'bin', 'cli.js')).href)
}

await main()
