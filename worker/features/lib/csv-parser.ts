// A streaming RFC 4180 CSV parser: feed it text chunks of any size; it emits each row as it completes.
// Quoted fields may hold delimiters, doubled quotes and newlines, and may span chunks. Lenient where
// the RFC is strict (stray text after a closing quote is kept; an unterminated quote ends at EOF).
const QUOTE = 34
const LF = 10
const CR = 13

// Parser states (plain numbers: enums are not erasable TypeScript).
const FIELD_START = 0
const QUOTED = 1
const AFTER_QUOTED = 2

export class CsvParser {
  readonly #delimiter: number
  readonly #onRow: (fields: string[]) => void
  #state = FIELD_START
  #row: string[] = []
  #field = ''
  #carry = ''
  #skipLf = false
  #afterDelimiter = false

  constructor(delimiter: string, onRow: (fields: string[]) => void) {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') throw new Error(`Invalid delimiter ${JSON.stringify(delimiter)}`)
    this.#delimiter = delimiter.charCodeAt(0)
    this.#onRow = onRow
  }

  #emitRow(): void {
    const row = this.#row
    this.#row = []
    this.#afterDelimiter = false
    // A blank line is not a row.
    if (row.length === 1 && row[0] === '') return
    this.#onRow(row)
  }

  /** Ends the field at `j` (a delimiter or line break) and returns where the next field starts. */
  #endField(s: string, j: number): number {
    const c = s.charCodeAt(j)
    if (c === this.#delimiter) {
      this.#afterDelimiter = true
      return j + 1
    }
    this.#emitRow()
    if (c === CR) {
      if (j + 1 === s.length) this.#skipLf = true
      else if (s.charCodeAt(j + 1) === LF) return j + 2
    }
    return j + 1
  }

  #push(value: string): void {
    this.#row.push(value)
    this.#afterDelimiter = false
  }

  #scanToBreak(s: string, i: number): number {
    const d = this.#delimiter
    let j = i
    for (const n = s.length; j < n; j++) {
      const c = s.charCodeAt(j)
      if (c === d || c === LF || c === CR) break
    }
    return j
  }

  push(chunk: string): void {
    const s = this.#carry + chunk
    this.#carry = ''
    const n = s.length
    let i = 0
    if (this.#skipLf) {
      this.#skipLf = false
      if (s.charCodeAt(0) === LF) i = 1
    }
    while (i < n) {
      if (this.#state === FIELD_START) {
        if (s.charCodeAt(i) === QUOTE) {
          this.#state = QUOTED
          this.#field = ''
          i++
          continue
        }
        const j = this.#scanToBreak(s, i)
        if (j === n) {
          // The field may go on in the next chunk: keep it and look again then.
          this.#carry = s.slice(i)
          return
        }
        this.#push(s.slice(i, j))
        i = this.#endField(s, j)
      } else if (this.#state === QUOTED) {
        const q = s.indexOf('"', i)
        if (q === -1) {
          this.#field += s.slice(i)
          return
        }
        this.#field += s.slice(i, q)
        if (q + 1 === n) {
          // Escaped quote or closing quote? The next chunk decides.
          this.#carry = '"'
          return
        }
        if (s.charCodeAt(q + 1) === QUOTE) {
          this.#field += '"'
          i = q + 2
        } else {
          this.#state = AFTER_QUOTED
          i = q + 1
        }
      } else {
        const j = this.#scanToBreak(s, i)
        this.#field += s.slice(i, j)
        if (j === n) return
        this.#push(this.#field)
        this.#field = ''
        this.#state = FIELD_START
        i = this.#endField(s, j)
      }
    }
  }

  /** Flushes the last row (with or without a final line break). */
  end(): void {
    if (this.#state === QUOTED || this.#state === AFTER_QUOTED) {
      this.#push(this.#field)
      this.#field = ''
      this.#state = FIELD_START
    } else if (this.#carry) {
      this.#push(this.#carry)
    } else if (this.#afterDelimiter) {
      this.#push('')
    }
    this.#carry = ''
    if (this.#row.length > 0) this.#emitRow()
  }
}
