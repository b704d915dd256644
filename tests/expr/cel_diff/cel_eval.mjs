// Evaluates expressions with the reference CEL implementation (@marcbachmann/cel-js, pinned in
// tests/peers/package.json) for baton's differential test.
//
//   node cel_eval.mjs PEERS_DIR INPUT
//
// INPUT's first line is the variable bindings as JSON, where numbers without '.' or an exponent
// are ints (BigInt) and the others doubles; every further line is one expression as a JSON
// string. Prints one JSON line per expression: {"value": CANONICAL} or {"error": MESSAGE}.
// CANONICAL is the value's text in the form cel_diff_test.cpp also produces (see Canonical).
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

const [peersDir, inputPath] = process.argv.slice(2)
const require = createRequire(join(peersDir, 'package.json'))
const cel = await import(pathToFileURL(require.resolve('@marcbachmann/cel-js')).href)

// A JSON parser that keeps the int/double distinction CEL needs.
function parseTyped(text) {
  let i = 0
  const ws = () => { while (/\s/.test(text[i] ?? '')) i++ }
  const value = () => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const out = {}
      ws()
      if (text[i] === '}') { i++; return out }
      for (;;) {
        ws()
        const k = value()
        ws(); i++ // ':'
        out[k] = value()
        ws()
        if (text[i++] === '}') return out
      }
    }
    if (c === '[') {
      i++
      const out = []
      ws()
      if (text[i] === ']') { i++; return out }
      for (;;) {
        out.push(value())
        ws()
        if (text[i++] === ']') return out
      }
    }
    if (c === '"') {
      const start = i
      i++
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1
      i++
      return JSON.parse(text.slice(start, i))
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) { i += word.length; return v }
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
    i += m[0].length
    return (m[1] || m[2]) ? Number(m[0]) : BigInt(m[0])
  }
  return value()
}

function canonicalDouble(x) {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Infinity) return 'Infinity'
  if (x === -Infinity) return '-Infinity'
  if (Object.is(x, -0)) return '-0e+0'
  return x.toExponential()  // shortest round-trip digits
}

// Canonical text of a CEL value: ints bare, doubles as d:<exponential>, strings JSON-quoted,
// lists in order, maps with keys sorted.
function canonical(v) {
  if (v === null) return 'null'
  if (typeof v === 'boolean') return String(v)
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') return 'd:' + canonicalDouble(v)
  if (typeof v === 'string') return JSON.stringify(v)
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']'
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v)
  const parts = entries.map(([k, x]) => [canonical(k), canonical(x)])
  parts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return '{' + parts.map(([k, x]) => k + ':' + x).join(',') + '}'
}

const lines = readFileSync(inputPath, 'utf8').split('\n').filter((l) => l.length > 0)
const bindings = parseTyped(lines[0])
// Aggregate literals may mix types ([1, "a"]), as in baton; context values are dyn.
const env = new cel.Environment({unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false})
const out = []
for (const line of lines.slice(1)) {
  const expr = JSON.parse(line)
  try {
    out.push(JSON.stringify({value: canonical(env.evaluate(expr, bindings))}))
  } catch (err) {
    out.push(JSON.stringify({error: String(err && err.message).split('\n')[0]}))
  }
}
process.stdout.write(out.join('\n') + '\n')
