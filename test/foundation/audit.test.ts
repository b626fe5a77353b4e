// scripts/audit.sh (`npm run audit`): a high or critical advisory fails; a registry without the
// audit endpoint passes with a warning; a clean report passes. npm is replaced by stubs that print
// what npm prints in each case.
import { spawnSync } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { projectRoot } from '../../server/config.ts'

async function stubNpm(t: Test, output: string, code: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-audit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'npm')
  await writeFile(file, `#!/bin/sh\necho "$*" > "${dir}/args"\ncat <<'OUT'\n${output}\nOUT\nexit ${code}\n`)
  await chmod(file, 0o755)
  return file
}

const run = (npm: string) => spawnSync('sh', ['scripts/audit.sh'], { cwd: projectRoot, env: { PATH: process.env.PATH, NPM: npm }, encoding: 'utf8' })

t.test('a high or critical advisory in production dependencies fails', async (t) => {
  const npm = await stubNpm(t, '# npm audit report\n\nlodash  <4.17.21\nSeverity: high\nPrototype Pollution in lodash\nfix available via `npm audit fix`\n\n1 high severity vulnerability', 1)
  const r = run(npm)
  t.equal(r.status, 1)
  t.match(r.stderr, /high or critical advisories/)
  t.match(r.stdout, /Severity: high/, "npm's report is shown")
})

t.test('a registry that does not answer the audit endpoint passes, with a warning', async (t) => {
  const npm = await stubNpm(t, 'npm warn audit 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk\nnpm error audit endpoint returned an error', 1)
  const r = run(npm)
  t.equal(r.status, 0)
  t.match(r.stderr, /WARNING: the registry did not answer the audit request; no advisory was checked/)
})

t.test('a clean report passes, and only production dependencies at high level are asked about', async (t) => {
  const npm = await stubNpm(t, 'found 0 vulnerabilities', 0)
  const r = run(npm)
  t.equal(r.status, 0)
  t.equal(r.stderr, '')
  const { readFile } = await import('node:fs/promises')
  t.equal((await readFile(path.join(path.dirname(npm), 'args'), 'utf8')).trim(), 'audit --omit=dev --audit-level=high')
})

t.test('any other npm failure fails', async (t) => {
  const r = run(await stubNpm(t, 'npm error code ENOLOCK', 1))
  t.equal(r.status, 1)
})
