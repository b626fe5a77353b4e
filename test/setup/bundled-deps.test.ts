// The test run's bundled dependencies (test/setup/bundled-deps.ts): every process and worker
// thread of `npm test` imports one copy of each, whose entry points share their state, and an entry
// point that is not bundled fails loudly instead of loading a second copy.
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import t from 'tap'
import { FormatRegistry, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { Kysely, PostgresDialect } from 'kysely'
import { BUNDLED, BUNDLED_DEPS_ENV } from './bundled-deps.ts'

const map = JSON.parse(process.env[BUNDLED_DEPS_ENV] || '{}') as Record<string, string>
const bundled = Object.keys(map).length > 0
const skip = !bundled && 'the run did not bundle the dependencies (`npm test` does, or says why not)'

t.test('every listed entry point resolves to its bundle, which exports what the installed one does', { skip }, async (t) => {
  t.same(Object.keys(map).sort(), Object.values(BUNDLED).flat().sort())
  // The installed modules' export names, from a process without the map (the hook then does nothing).
  const script = `const out = {}; for (const s of ${JSON.stringify(Object.keys(map))}) out[s] = Object.keys(await import(s)).sort(); console.log(JSON.stringify(out))`
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, [BUNDLED_DEPS_ENV]: '' } })
  const installed = JSON.parse(stdout) as Record<string, string[]>
  for (const [specifier, url] of Object.entries(map)) {
    t.equal(import.meta.resolve(specifier), url, `${specifier} resolves to the bundle`)
    t.same(Object.keys(await import(specifier)).sort(), installed[specifier], `${specifier}: the same exports`)
  }
})

t.test('entry points of one package share its state', async (t) => {
  FormatRegistry.Set('conveyor-bundled-deps-test', (v) => v === 'yes')
  const schema = Type.String({ format: 'conveyor-bundled-deps-test' })
  t.ok(Value.Check(schema, 'yes'), 'a format set through @sinclair/typebox is known to @sinclair/typebox/value')
  t.notOk(Value.Check(schema, 'no'))
  t.type(Kysely, 'function')
  t.type(PostgresDialect, 'function')
})

t.test('an entry point not bundled is refused, naming the fix; a require() gets the installed package', { skip }, async (t) => {
  await t.rejects(import('@sinclair/typebox/compiler'), /@sinclair\/typebox\/compiler is not among the entry points test\/setup\/bundled-deps\.ts bundles/)
  t.match(createRequire(import.meta.url).resolve('@opentelemetry/api'), /node_modules\/@opentelemetry\/api\//)
})

t.test('a worker thread gets the bundles too', { skip }, async (t) => {
  const worker = new Worker(new URL('./fixtures/resolve-in-thread.ts', import.meta.url))
  const resolved = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
  await worker.terminate()
  t.equal(resolved, map.kysely)
})
