// A five-field cron expression in words ("At 03:30, on Monday to Friday"), for the schedule form's
// preview. It only describes: whether the expression is valid, and when it runs next, the server
// says (its 400 names the field; next_run_at after saving). Plain TypeScript, tested in Node.

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTH_ABBR = MONTHS.map((m) => m.slice(0, 3).toUpperCase())
const DAY_ABBR = DAYS.map((d) => d.slice(0, 3).toUpperCase())

interface Unit { one: string; many: string; min: number; max: number; names?: string[]; abbr?: string[]; offset?: number }
const MINUTE: Unit = { one: 'minute', many: 'minutes', min: 0, max: 59 }
const HOUR: Unit = { one: 'hour', many: 'hours', min: 0, max: 23 }
const DOM: Unit = { one: 'day', many: 'days', min: 1, max: 31 }
const MONTH: Unit = { one: 'month', many: 'months', min: 1, max: 12, names: MONTHS, abbr: MONTH_ABBR, offset: 1 }
const DOW: Unit = { one: 'day of the week', many: 'days of the week', min: 0, max: 7, names: [...DAYS, 'Sunday'], abbr: [...DAY_ABBR, 'SUN'] }

/** A value of a field (number or name) as a number, or NaN. */
function valueOf(text: string, unit: Unit): number {
  const byName = unit.abbr?.indexOf(text.toUpperCase()) ?? -1
  const n = byName >= 0 ? byName + (unit.offset ?? 0) : /^\d+$/.test(text) ? Number(text) : NaN
  return n >= unit.min && n <= unit.max ? n : NaN
}

const nameOf = (n: number, unit: Unit) => (unit.names ? unit.names[n - (unit.offset ?? 0)]! : String(n))
const pad = (n: number) => String(n).padStart(2, '0')

function list(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

/** One comma-separated part: `*`, `*\/n`, `a`, `a-b`, `a-b/n`. Null when it is not valid. */
function part(text: string, unit: Unit): string | null {
  const m = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/(\d+))?$/i.exec(text)
  if (!m) return null
  const step = m[2] === undefined ? 1 : Number(m[2])
  if (step < 1) return null
  const every = step === 1 ? `every ${unit.one}` : `every ${step} ${unit.many}`
  if (m[1] === '*') return every
  const [a, b] = m[1]!.split('-').map((v) => valueOf(v, unit))
  if (Number.isNaN(a) || (b !== undefined && (Number.isNaN(b) || b < a!))) return null
  if (b === undefined) return step === 1 ? nameOf(a!, unit) : `${every} from ${nameOf(a!, unit)}`
  return step === 1 ? `${nameOf(a!, unit)} to ${nameOf(b, unit)}` : `${every} from ${nameOf(a!, unit)} to ${nameOf(b, unit)}`
}

function field(text: string, unit: Unit): string | null {
  const parts = text.split(',').map((p) => part(p, unit))
  // Sunday is both 0 and 7: say it once.
  return parts.some((p) => p === null) ? null : list([...new Set(parts as string[])])
}

const single = (text: string, unit: Unit) => (/^[a-z0-9]+$/i.test(text) && !Number.isNaN(valueOf(text, unit)) ? valueOf(text, unit) : null)

/** The expression in words, or null when it is not five valid fields. */
export function describeCron(expression: string): string | null {
  const fields = expression.trim().split(/\s+/)
  if (fields.length !== 5) return null
  const [min, hour, dom, month, dow] = fields as [string, string, string, string, string]
  const words = [field(min, MINUTE), field(hour, HOUR), field(dom, DOM), field(month, MONTH), field(dow, DOW)]
  if (words.some((w) => w === null)) return null
  const [minW, hourW, domW, monthW, dowW] = words as string[]

  const m = single(min, MINUTE)
  const hours = hour.split(',').map((x) => single(x, HOUR))
  const minutes = min === '*' ? 'every minute' : m !== null ? `at minute ${m}` : minW!.startsWith('every') ? minW! : `at minutes ${minW}`
  let time: string
  if (m !== null && hours.every((x) => x !== null)) time = `At ${list(hours.map((x) => `${pad(x!)}:${pad(m)}`))}`
  else if (hour === '*') time = cap(minutes) + (minutes.startsWith('at') ? ' of every hour' : '')
  else time = `${cap(minutes)}, ${hourW!.startsWith('every') ? hourW : `during hour${hours.length === 1 && hours[0] !== null ? '' : 's'} ${hourW}`}`

  const days: string[] = []
  if (dom !== '*') days.push(`on ${dom.includes('*') ? domW : `day ${domW}`} of the month`)
  if (dow !== '*') days.push(`on ${dowW}`)
  // Cron's rule: when both are restricted, a day matching either one runs.
  let when = days.length === 0 ? 'every day' : days.join(' or ')
  if (month !== '*') when += `, in ${monthW}`
  return `${time}, ${when}`
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

/** The five fields' names, for the hint under the input. */
export const CRON_FIELDS = 'minute hour day-of-month month day-of-week'
