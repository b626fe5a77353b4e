// The layers of DESIGN.md are enforced by dependency-cruiser (.dependency-cruiser.cjs): the real tree
// has no violation, and a tree with one backwards import of each kind is refused, rule by rule.
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'

const root = path.resolve(import.meta.dirname, '..', '..')
const depcruise = path.join(root, 'node_modules', '.bin', 'depcruise')

function cruise(cwd: string, dirs: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(depcruise, ['--config', path.join(root, '.dependency-cruiser.cjs'), '--output-type', 'err', ...dirs], { cwd },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }))
  })
}

t.test('the project has no import against the layers', async (t) => {
  const { code, out } = await cruise(root, ['server', 'worker', 'db', 'seeds', 'client/src'])
  t.equal(code, 0, out)
  t.match(out, /no dependency violations found/)
})

t.test('each kind of backwards import is refused', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'conveyor-layers-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const files: Record<string, string> = {
    'server/config.ts': 'export const x = 1\n',
    'server/schemas/things.ts': 'export const ThingSchema = { type: "object" }\nexport type Thing = { id: string }\n',
    'worker/engine/run.ts': "import { x } from '../../server/config.ts'\nexport const y = x\n",
    'worker/features/api.ts': 'export const defineFeature = (f: unknown) => f\n',
    'worker/features/bad-feature.ts': "import { y } from '../engine/run.ts'\nimport { defineFeature } from './api.ts'\nexport default defineFeature(y)\n",
    'db/index.ts': "import { y } from '../worker/engine/run.ts'\nexport const z = y\n",
    'client/src/main.ts': "import { ThingSchema } from '../../server/schemas/things.ts'\nimport { z } from '../../db/index.ts'\nexport const w = [ThingSchema, z]\n",
  }
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await writeFile(path.join(dir, name), text)
  }
  await copyFile(path.join(root, 'tsconfig.json'), path.join(dir, 'tsconfig.json'))
  const { code, out } = await cruise(dir, ['server', 'worker', 'db', 'client/src'])
  t.not(code, 0, 'depcruise fails')
  for (const rule of ['worker-imports-server', 'db-imports-up', 'feature-imports-engine', 'client-imports-outside-schemas', 'client-imports-schema-values']) {
    t.match(out, rule, `${rule} is reported`)
  }
})
