// `npm start` as root with the embedded PostgreSQL's data in a folder the postgres user cannot
// enter (a checkout under a 0700 home): a real Conveyor process and a real PostgreSQL.
import { mkdtemp, rm, chmod } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { freePort, runNode } from './support.ts'

const isRoot = process.getuid?.() === 0

t.test('as root, the embedded PostgreSQL starts with its data under a 0700 folder', { skip: isRoot ? false : 'needs root (the embedded PostgreSQL then runs as the postgres user)' }, async (t) => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'conveyor-private-'))
  await chmod(home, 0o700)
  t.teardown(() => rm(home, { recursive: true, force: true }))
  const child = runNode(['server/cli.ts', 'start'], {
    // No DATABASE_URL/POSTGRES_HOST: development's embedded PostgreSQL (empty values count as unset,
    // so a developer's .env cannot point this test elsewhere).
    DATABASE_URL: '', POSTGRES_HOST: '',
    NODE_ENV: 'development',
    EMBEDDED_POSTGRES_DIR: path.join(home, 'checkout', '.data', 'postgres'),
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    HOST: '127.0.0.1', PORT: '0', WORKER_THREADS: '1', LOG_LEVEL: 'info',
    MEDIA_ROOT: path.join(home, 'media'),
  })
  let relocated: string | undefined
  t.teardown(async () => {
    if (child.process.exitCode === null) child.process.kill('SIGKILL')
    await child.exited
    if (relocated) await rm(relocated, { recursive: true, force: true })
  })
  // "cannot enter <data>, so its data is in …", or, from a checkout the postgres user cannot enter
  // either, "cannot enter <binaries> nor <data>, so its binaries run from … and its data is in …".
  const [, data] = await child.waitFor(/cannot enter .*its data is in (\/[^\s"\\]+)/)
  relocated = data
  t.ok(data!.startsWith('/var/lib/conveyor/embedded-postgres/'), `data relocated to ${data}`)
  const [, url] = await child.waitFor(/ready: (http:\/\/127\.0\.0\.1:\d+)/)
  const res = await fetch(`${url}/readyz`)
  t.equal(res.status, 200)
  t.notMatch(child.output(), /EACCES/)

  child.process.kill('SIGTERM')
  t.equal(await child.exited, 0, 'SIGTERM: exit 0')
  t.match(child.output(), /Shutdown complete/)
})
