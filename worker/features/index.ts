// The feature registry: one line per feature file. The API and every worker thread load this list.
import { moduleUrl } from '../../db/source.ts'

export const featureModules: URL[] = [
  moduleUrl('./text-stats.ts', import.meta.url),
  moduleUrl('./csv-profile.ts', import.meta.url),
  moduleUrl('./clear-expired-sessions.ts', import.meta.url),
  moduleUrl('./purge-old-requests.ts', import.meta.url),
]
