// Terminal prompts for the CLI. A password is read with the terminal in raw mode, so nothing typed
// is echoed (nor kept in the terminal's scroll-back); from a pipe it is read as one plain line.
import { createInterface } from 'node:readline/promises'

/** What a prompt needs of stdin: process.stdin, or a stand-in in the tests. */
export interface PromptInput extends NodeJS.ReadableStream {
  isTTY?: boolean
  setRawMode?(mode: boolean): unknown
}

export async function ask(question: string, input: PromptInput = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<string> {
  const rl = createInterface({ input, output, terminal: false })
  try {
    output.write(question)
    return (await rl.question('')).trim()
  } finally {
    rl.close()
  }
}

/** Reads a line without echoing it; Ctrl-C rejects. Backspace works, other control keys are ignored. */
export function askHidden(question: string, input: PromptInput = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<string> {
  if (!input.isTTY || typeof input.setRawMode !== 'function') return ask(question, input, output)
  const setRaw = input.setRawMode.bind(input)
  // Echo goes off before the prompt shows: whatever is typed once it is visible stays hidden.
  setRaw(true)
  output.write(question)
  input.setEncoding('utf8')
  input.resume()
  return new Promise((resolve, reject) => {
    let chars: string[] = []
    let escape = false
    const finish = () => {
      input.off('data', onData)
      setRaw(false)
      input.pause()
      output.write('\n')
    }
    function onData(chunk: string | Buffer) {
      for (const ch of String(chunk)) {
        if (escape) { // the rest of an arrow key's or function key's sequence
          if (/[A-Za-z~]/.test(ch)) escape = false
          continue
        }
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish()
          resolve(chars.join(''))
          return
        }
        if (ch === '\u0003') {
          finish()
          reject(new Error('cancelled'))
          return
        }
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1)
        else if (ch === '\u001b') escape = true
        else if (ch >= ' ') chars.push(ch)
      }
    }
    input.on('data', onData)
  })
}
