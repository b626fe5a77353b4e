// The feature registry: one line per feature file. The API and every worker thread load this list.
export const featureModules: URL[] = [
  new URL('./text-stats.ts', import.meta.url),
  new URL('./csv-profile.ts', import.meta.url),
  new URL('./clear-expired-sessions.ts', import.meta.url),
  new URL('./purge-old-requests.ts', import.meta.url),
]
