// npm run build:server — compiles server/, worker/, db/ and seeds/ to dist/ and copies the files
// they read at run time (password list, JSON fixtures) next to the compiled modules.
import { execFileSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const dist = path.join(root, 'dist')
rmSync(dist, { recursive: true, force: true })
execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
for (const dir of ['server', 'worker', 'db', 'seeds']) {
  cpSync(path.join(root, dir), path.join(dist, dir), {
    recursive: true,
    // Directories are walked; of files, only the non-code ones are copied.
    filter: (src) => !/\.(ts|md)$/.test(src),
  })
}
