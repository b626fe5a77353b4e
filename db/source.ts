// Where Conveyor's own files are, whether it runs from source (`.ts`, development and tests) or
// compiled (`dist/…/*.js`, production and the image). The one place that knows both layouts.
import { existsSync } from 'node:fs'
import path from 'node:path'

/**
 * A module next to the caller, as `new URL(specifier, import.meta.url)` but naming the compiled
 * `.js` file when the caller itself is compiled: `moduleUrl('./thread.ts', import.meta.url)`.
 */
export function moduleUrl(specifier: string, base: string | URL): URL {
  const url = new URL(specifier, base)
  if (String(base).endsWith('.js') && url.pathname.endsWith('.ts')) url.pathname = `${url.pathname.slice(0, -3)}.js`
  return url
}

/** The folder holding package.json: the repository, or /app in the image (compiled code is in dist/). */
export const projectRoot = findRoot(import.meta.dirname)

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) return path.resolve(import.meta.dirname, '..')
  }
}
