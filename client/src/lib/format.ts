// Display helpers: sizes, durations, dates, numbers.
const number = new Intl.NumberFormat()
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })
const timeOfDay = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' })

export const formatNumber = (n: number): string => number.format(n)

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

export function formatSeconds(total: number): string {
  if (total < 60) return `${Math.round(total)} s`
  const m = Math.floor(total / 60)
  const s = Math.round(total % 60)
  if (m < 60) return s ? `${m} min ${s} s` : `${m} min`
  const h = Math.floor(m / 60)
  return `${h} h ${m % 60} min`
}

export const formatDate = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—')
export const formatDay = (iso: string): string => day.format(new Date(iso))
export const formatTimeOfDay = (iso: string): string => timeOfDay.format(new Date(iso))

/** How long between two ISO times (to now when the end is missing). */
export function elapsed(from: string | null, to: string | null): string {
  if (!from) return '—'
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime()
  return ms < 1000 ? `${Math.max(0, ms)} ms` : formatSeconds(ms / 1000)
}

export const shortId = (id: string): string => id.slice(0, 8)
