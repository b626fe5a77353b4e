// How each feature's results are shown: a feature added to the server shows as JSON until a view
// for it is registered here. `csv`: the feature offers download-results/?format=csv.
import { defineAsyncComponent, type Component } from 'vue'
import JsonResult from './JsonResult.vue'

interface ResultView { component: Component; csv: boolean }

const views: Record<string, ResultView> = {
  'text-stats': { component: defineAsyncComponent(() => import('./TextStatsResult.vue')), csv: true },
  'csv-profile': { component: defineAsyncComponent(() => import('./CsvProfileResult.vue')), csv: true },
}

export const resultView = (feature: string): ResultView => views[feature] ?? { component: JsonResult, csv: false }
