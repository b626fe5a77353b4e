// text-stats: a text (JSON `text`, or an uploaded .txt) → characters, words, lines, sentences,
// paragraphs, top words and reading time. Streams an uploaded file, so its size does not matter.
import { createReadStream } from 'node:fs'
import { Type } from '@sinclair/typebox'
import { defineFeature, JobError } from './api.ts'

const TOKEN = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*|[.!?…]+/gu
const SURROGATE_LOW = /[\uDC00-\uDFFF]/g
const WHITESPACE = /\s/gu

/** Counts over a text fed line by line, in constant memory apart from the word frequencies. */
class TextCounter {
  characters = 0
  whitespace = 0
  words = 0
  wordLetters = 0
  lines = 0
  sentences = 0
  paragraphs = 0
  readonly frequencies = new Map<string, number>()
  #inSentence = false
  #inParagraph = false

  line(text: string): void {
    this.lines++
    // Code points, not UTF-16 units: a surrogate pair is one character.
    this.characters += text.length - (text.match(SURROGATE_LOW)?.length ?? 0)
    this.whitespace += text.match(WHITESPACE)?.length ?? 0
    if (text.trim() === '') {
      this.#inParagraph = false
      return
    }
    if (!this.#inParagraph) this.paragraphs++
    this.#inParagraph = true
    for (const [token] of text.matchAll(TOKEN)) {
      if (/^[.!?…]/.test(token)) {
        if (this.#inSentence) this.sentences++
        this.#inSentence = false
        continue
      }
      this.#inSentence = true
      this.words++
      this.wordLetters += token.length
      const word = token.toLowerCase()
      this.frequencies.set(word, (this.frequencies.get(word) ?? 0) + 1)
    }
  }

  finish(): void {
    if (this.#inSentence) this.sentences++
    this.#inSentence = false
  }
}

export default defineFeature({
  name: 'text-stats',
  title: 'Text statistics',
  description: 'Counts characters, words, lines, sentences and paragraphs of a text, its most frequent words and its reading time.',
  input: Type.Object({
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 5_000_000, description: 'The text (or upload a .txt file instead)' })),
    top_n: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'How many top words' })),
    words_per_minute: Type.Optional(Type.Integer({ minimum: 50, maximum: 1000, default: 200, description: 'Reading speed' })),
  }),
  file: { extensions: ['.txt', '.text', '.md'], contentTypes: ['text/plain', 'text/markdown', 'application/octet-stream'], text: true, required: false },
  timeLimitSeconds: 600,
  retry: { limit: 1, delaySeconds: 5, backoff: true },

  checkInput(input, file) {
    if (input.text === undefined && !file) return { text: ['This field is required.'] }
    if (input.text !== undefined && file) return { non_field_errors: ['Send either a text or a file, not both.'] }
    return null
  },

  validate(input, ctx) {
    if (input.text === undefined && !ctx.inputFile) throw new JobError('There is no text to analyse.')
    return { text: input.text ?? null, topN: input.top_n ?? 10, wordsPerMinute: input.words_per_minute ?? 200 }
  },

  async process(valid, ctx) {
    const counter = new TextCounter()
    ctx.log(valid.text !== null ? `Analysing ${valid.text.length} characters of text` : `Analysing ${ctx.inputFile!.name} (${ctx.inputFile!.size} bytes)`)
    if (valid.text !== null) {
      const lines = valid.text.split(/\r?\n/)
      if (lines.length > 1 && lines.at(-1) === '') lines.pop()
      for (const line of lines) counter.line(line)
    } else {
      const file = ctx.inputFile!
      let rest = ''
      let read = 0
      for await (const chunk of createReadStream(file.path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
        ctx.signal.throwIfAborted()
        read += Buffer.byteLength(chunk as string)
        const lines = (rest + (chunk as string)).split(/\r?\n/)
        rest = lines.pop()!
        for (const line of lines) counter.line(line)
        ctx.progress((read / file.size) * 100)
      }
      // A final line break ends the last line; it does not start an empty one.
      if (rest !== '' || counter.lines === 0) counter.line(rest)
    }
    counter.finish()
    ctx.log(`Counted ${counter.words} words in ${counter.lines} lines, ${counter.frequencies.size} distinct`)
    return { counter, topN: valid.topN, wordsPerMinute: valid.wordsPerMinute }
  },

  save({ counter: c, topN, wordsPerMinute }) {
    const top = [...c.frequencies].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, topN)
    return {
      data: {
        characters: c.characters,
        characters_no_spaces: c.characters - c.whitespace,
        words: c.words,
        unique_words: c.frequencies.size,
        lines: c.lines,
        sentences: c.sentences,
        paragraphs: c.paragraphs,
        average_word_length: c.words ? Math.round((c.wordLetters / c.words) * 100) / 100 : 0,
        reading_time_seconds: Math.ceil((c.words / wordsPerMinute) * 60),
        top_words: top.map(([word, count]) => ({ word, count })),
      },
    }
  },

  result: {
    view: [
      {
        type: 'summary',
        items: [
          { label: 'Words', path: 'words', format: 'number' },
          { label: 'Unique words', path: 'unique_words', format: 'number' },
          { label: 'Characters', path: 'characters', format: 'number' },
          { label: 'Without spaces', path: 'characters_no_spaces', format: 'number' },
          { label: 'Sentences', path: 'sentences', format: 'number' },
          { label: 'Paragraphs', path: 'paragraphs', format: 'number' },
          { label: 'Lines', path: 'lines', format: 'number' },
          { label: 'Avg. word length', path: 'average_word_length', format: 'number' },
          { label: 'Reading time', path: 'reading_time_seconds', format: 'seconds' },
        ],
      },
      {
        type: 'table',
        title: 'Top words',
        rows: 'top_words',
        empty: 'The text has no words.',
        columns: [
          { label: '#', format: 'rank' },
          { label: 'Word', path: 'word' },
          { label: 'Count', path: 'count', format: 'number' },
          { label: 'Share', path: 'count', format: 'share', of: 'words' },
          { label: 'Frequency bar', path: 'count', format: 'bar' },
        ],
      },
    ],
    downloads: ['json', 'csv'],
  },

  toCsv(data: Record<string, unknown> & { top_words: { word: string; count: number }[] }) {
    const rows = Object.entries(data).filter(([k]) => k !== 'top_words').map(([k, v]) => `${k},${v}`)
    const words = data.top_words.map((w) => `top_word:${w.word.replace(/[",\n]/g, ' ')},${w.count}`)
    return ['metric,value', ...rows, ...words].join('\n') + '\n'
  },
})
