// @ts-check
// Preloaded (NODE_OPTIONS from test/run.ts) into every process of a test run, and with it into
// their worker threads: imports of the packages test/setup/bundled-deps.ts bundled resolve to the
// bundles. tap's process tracking passes NODE_OPTIONS on even to the processes tests start with a
// clean environment, among them the compiled server, which runs with type stripping off: hence
// JavaScript, not TypeScript. Without the variable (a test file run by hand) it does nothing.
import { registerHooks } from 'node:module'

/** @type {Record<string, string>} */
const map = JSON.parse(process.env.CONVEYOR_TEST_BUNDLED_DEPS || '{}')
const packages = [...new Set(Object.keys(map).map((s) => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/')))]

if (packages.length > 0) {
  registerHooks({
    resolve(specifier, context, next) {
      // A require() gets the package's CommonJS build, as it does in production.
      if (context.conditions.includes('require')) return next(specifier, context)
      const url = map[specifier]
      if (url) return { url, format: 'module', shortCircuit: true }
      // Another entry point of a bundled package would be a second copy of its internals (its
      // registries, its classes): it must be listed so that it comes from the same bundle.
      if (packages.some((p) => specifier.startsWith(`${p}/`)) && !specifier.endsWith('/package.json')) {
        throw new Error(`${specifier} is not among the entry points test/setup/bundled-deps.ts bundles: add it to BUNDLED there`)
      }
      return next(specifier, context)
    },
  })
}
