// Loads feature files (the built-in list plus any configured extras) and checks each definition.
// Process-wide: every thread and the main thread hold their own copy, loaded from the same URLs.
import { pathToFileURL } from 'node:url'
import { resultProblem, type Feature } from './api.ts'
import { featureModules as builtIn } from './index.ts'

const NAME = /^[a-z][a-z0-9-]{0,62}$/
// Second path segments of /api/v1/ that are not features.
const RESERVED = new Set(['auth', 'users', 'admin', 'jobs', 'features', 'schedules', 'version-info'])

const features = new Map<string, { feature: Feature; href: string }>()
const loading = new Map<string, Promise<void>>()

function check(feature: Feature, href: string): void {
  const where = `feature in ${href}`
  if (!feature || typeof feature !== 'object') throw new Error(`${where}: the default export is not a feature`)
  if (!NAME.test(feature.name ?? '')) throw new Error(`${where}: name must match ${NAME}`)
  if (RESERVED.has(feature.name)) throw new Error(`${where}: "${feature.name}" is a reserved path`)
  for (const fn of ['validate', 'process', 'save'] as const) {
    if (typeof feature[fn] !== 'function') throw new Error(`${where}: ${fn}() is missing`)
  }
  if (feature.input?.type !== 'object') throw new Error(`${where}: input must be a TypeBox object schema`)
  const problem = resultProblem(feature) // defineFeature checks too; a plain object skips it
  if (problem) throw new Error(`${where}: ${problem}`)
  const seen = features.get(feature.name)
  if (seen && seen.href !== href) throw new Error(`${where}: "${feature.name}" is already registered by ${seen.href}`)
}

async function loadModule(href: string): Promise<void> {
  const mod = await import(href) as { default?: Feature | Feature[] }
  const list = Array.isArray(mod.default) ? mod.default : [mod.default as Feature]
  for (const feature of list) check(feature, href)
  for (const feature of list) features.set(feature.name, { feature, href })
}

const registered: string[] = []
const toUrl = (p: string) => (/^[a-z]+:/.test(p) ? p : pathToFileURL(p).href)

/**
 * Adds feature files (absolute paths or URLs) for this process, as FEATURE_MODULES does: call it
 * before buildApp/startEngine. The threads load them by URL, so a feature is always a module.
 */
export function registerFeatureModules(...modules: (string | URL)[]): void {
  for (const m of modules) registered.push(typeof m === 'string' ? toUrl(m) : m.href)
}

/** The module URLs of the built-in features, the registered ones and `extra` (file paths or URLs). */
export function moduleUrls(extra: string[] = []): string[] {
  return [...new Set([...builtIn.map((u) => u.href), ...registered, ...extra.map(toUrl)])]
}

/** Loads every listed module once; safe to call again with more. */
export async function loadFeatures(urls: string[]): Promise<void> {
  await Promise.all(urls.map((href) => {
    let p = loading.get(href)
    if (!p) {
      p = loadModule(href)
      loading.set(href, p)
      p.catch(() => loading.delete(href))
    }
    return p
  }))
}

export function getFeature(name: string): Feature | undefined {
  return features.get(name)?.feature
}

/** The module URL a loaded feature came from. */
export function moduleOf(name: string): string | undefined {
  return features.get(name)?.href
}

/** Features loaded from `urls`, in that order. */
export function featuresOf(urls: string[]): Feature[] {
  const rank = (href: string) => urls.indexOf(href)
  return [...features.values()].filter((f) => rank(f.href) >= 0).sort((a, b) => rank(a.href) - rank(b.href)).map((f) => f.feature)
}
