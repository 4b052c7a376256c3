#!/usr/bin/env node
// Scores a run of the HTTP cache conformance suite (npm package `http-cache-tests`, the
// suite behind cache-tests.fyi) the way the suite itself judges a result, so that our
// numbers and the published ones mean the same thing.
//
//   node scripts/cache-tests-score.mjs --results FILE [--out DIR] [--suite DIR]
//        [--min-required PCT] [--min-optimal PCT] [--allow-missing] [--title TEXT]
//        [--expect-no-cache]
//
// The tests, their kinds and their dependencies are imported from the pinned suite
// (`tests/index.mjs` plus `tests/surrogate-control.mjs`, the set its CLI runs), never copied:
// a new suite version brings its own list. Each test is judged by the suite's own
// `determineTestResult` (lib/display.mjs): passed only when its result is `true` and every
// test it depends on passed, transitively (else a dependency failure); setup errors,
// retries and harness errors are not passes. Tests the CLI skips (`browser_only`) are not
// counted. A test with no `kind` is `required`, as in that same function.
//
// With --out it writes DIR/summary.json and DIR/conformance.md (a Markdown fragment for
// docs/conformance.md); it always prints one line per kind. Exit status: 0 when required
// and optimal are at or above their bars (defaults 85% and 70%), 1 when below, 2 for bad
// input — including a results file that lacks a test the CLI runs, which means the run did
// not finish (--allow-missing accepts that, for older published results).
// --expect-no-cache is the sanity check of a run against the suite's origin alone: it fails
// (exit 1) when any test that expects a response from the cache passed, which no run without
// a cache can do unless the harness is broken.
// Node only, no dependencies beyond the suite.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const KINDS = ['required', 'optimal', 'check']
// The symbols `determineTestResult` gives a passed test ("pass", "yes") and a dependency failure.
const PASS_SYMBOLS = ['✅', 'Y']
const DEPENDENCY_FAILED = '⚪️'

function usage (message) {
  if (message) console.error(`cache-tests-score: ${message}`)
  console.error('usage: cache-tests-score.mjs --results FILE [--out DIR] [--suite DIR] ' +
    '[--min-required PCT] [--min-optimal PCT] [--allow-missing] [--title TEXT] [--expect-no-cache]')
  process.exit(2)
}

function parseArgs (argv) {
  const opts = {
    results: undefined,
    out: undefined,
    suite: path.join(here, '..', 'conformance', 'cache-tests', 'node_modules', 'http-cache-tests'),
    minRequired: 85,
    minOptimal: 70,
    allowMissing: false,
    expectNoCache: false,
    title: undefined
  }
  const value = (i, name) => {
    if (i + 1 >= argv.length) usage(`${name} needs a value`)
    return argv[i + 1]
  }
  const percent = (text, name) => {
    const n = Number(text)
    if (!Number.isFinite(n) || n < 0 || n > 100) usage(`${name} must be a percentage (0 to 100), not "${text}"`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    switch (arg) {
      case '--results': opts.results = value(i, arg); i++; break
      case '--out': opts.out = value(i, arg); i++; break
      case '--suite': opts.suite = value(i, arg); i++; break
      case '--min-required': opts.minRequired = percent(value(i, arg), arg); i++; break
      case '--min-optimal': opts.minOptimal = percent(value(i, arg), arg); i++; break
      case '--title': opts.title = value(i, arg); i++; break
      case '--allow-missing': opts.allowMissing = true; break
      case '--expect-no-cache': opts.expectNoCache = true; break
      case '-h':
      case '--help': usage()
      // falls through (usage exits)
      default: usage(`unknown argument "${arg}"`)
    }
  }
  if (opts.results === undefined) usage('--results is required')
  return opts
}

/** The suites the CLI runs, in its order: the index, then surrogate-control (cli.mjs pushes it). */
async function loadSuite (dir) {
  const load = async rel => (await import(pathToFileURL(path.join(dir, rel)).href)).default
  let index, surrogate, pkg, display
  try {
    display = await import(pathToFileURL(path.join(dir, 'lib', 'display.mjs')).href)
    index = await load('tests/index.mjs')
    surrogate = await load('tests/surrogate-control.mjs')
    pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  } catch (err) {
    usage(`cannot load the suite from ${dir} (run npm ci in conformance/cache-tests): ${err.message}`)
  }
  const tests = new Map()
  const suites = [...index, surrogate]
  suites.forEach((suite, order) => {
    for (const test of suite.tests) {
      if (test.browser_only === true) continue // the CLI skips these
      const kind = test.kind ?? 'required'
      if (!KINDS.includes(kind)) throw new Error(`test ${test.id}: unknown kind ${kind}`)
      tests.set(test.id, {
        id: test.id,
        kind,
        name: test.name ?? '',
        suite: suite.id,
        suiteName: suite.name,
        suiteOrder: order,
        dependsOn: test.depends_on ?? [],
        expectsCached: test.requests.some(request => request.expected_type === 'cached')
      })
    }
  })
  return { version: pkg.version, tests, suites, display }
}

/** One line of Markdown table text: no pipes or line breaks from the suite's strings. */
function cell (text) {
  return String(text).replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim()
}

function pct (passed, total) {
  return total === 0 ? 0 : (100 * passed) / total
}

/**
 * Judges every test with the suite's own `determineTestResult` (lib/display.mjs), the
 * function cache-tests.fyi draws its table with, so the rule lives in one place: passed is
 * its "pass" (required, optimal) or "yes" (check); anything else, including a dependency
 * failure, is not. Only the reason text is ours.
 */
function score (suite, results) {
  const judged = new Map()
  const passed = id => {
    if (!judged.has(id)) {
      const symbol = suite.display.determineTestResult(suite.suites, id, results)[2]
      judged.set(id, { symbol, passed: PASS_SYMBOLS.includes(symbol) })
    }
    return judged.get(id).passed
  }
  const reason = test => {
    const result = results[test.id]
    if (judged.get(test.id).symbol === DEPENDENCY_FAILED) {
      const dep = test.dependsOn.find(d => !passed(d))
      return { error: 'dependency', reason: `dependency failed: ${dep}` }
    }
    if (result === undefined) return { error: 'missing', reason: 'no result' }
    if (Array.isArray(result)) {
      const [error, message] = result
      if (error === 'Setup' && message === 'retry') return { error, reason: 'the cache retried a request' }
      return { error: String(error), reason: String(message ?? error) }
    }
    return { error: 'harness', reason: `unexpected result ${JSON.stringify(result)}` }
  }
  const counts = Object.fromEntries(KINDS.map(k => [k, { passed: 0, total: 0 }]))
  const failures = []
  for (const test of suite.tests.values()) {
    counts[test.kind].total++
    if (passed(test.id)) {
      counts[test.kind].passed++
    } else {
      failures.push({ id: test.id, kind: test.kind, name: test.name, ...reason(test), suite: test.suite })
    }
  }
  const order = id => suite.tests.get(id).suiteOrder
  failures.sort((a, b) => order(a.id) - order(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const missing = [...suite.tests.keys()].filter(id => !(id in results))
  const unknown = Object.keys(results).filter(id => !suite.tests.has(id))
  const cachedPasses = [...suite.tests.values()].filter(t => t.expectsCached && passed(t.id)).map(t => t.id)
  return { counts, failures, missing, unknown, cachedPasses }
}

function markdown (suite, scored, opts) {
  const { counts, failures, missing } = scored
  const lines = []
  const title = opts.title ?? `http-cache-tests ${suite.version}`
  lines.push(`### ${title}`, '')
  lines.push('| kind | passed | total | % |', '|---|---:|---:|---:|')
  for (const kind of KINDS) {
    const { passed, total } = counts[kind]
    lines.push(`| ${kind} | ${passed} | ${total} | ${pct(passed, total).toFixed(1)}% |`)
  }
  lines.push('')
  if (missing.length > 0) {
    lines.push(`${missing.length} tests have no result in this file; they count as not passed.`, '')
  }
  const suiteName = id => suite.tests.get(id).suiteName
  const table = rows => {
    lines.push('| suite | test | kind | name | reason |', '|---|---|---|---|---|')
    for (const f of rows) {
      lines.push(`| ${cell(suiteName(f.id))} | \`${f.id}\` | ${f.kind} | ${cell(f.name)} | ${cell(f.reason)} |`)
    }
    lines.push('')
  }
  const graded = failures.filter(f => f.kind !== 'check')
  lines.push(`#### Required and optimal tests not passed (${graded.length})`, '')
  if (graded.length > 0) table(graded); else lines.push('None.', '')
  const checks = failures.filter(f => f.kind === 'check')
  lines.push(`#### Check tests answered "no" or not run (${checks.length})`, '')
  lines.push('Check tests record behaviour the specification leaves open; "no" is not a failure.', '')
  if (checks.length > 0) table(checks); else lines.push('None.', '')
  return lines.join('\n')
}

async function main () {
  const opts = parseArgs(process.argv.slice(2))
  const suite = await loadSuite(opts.suite)
  let results
  try {
    results = JSON.parse(fs.readFileSync(opts.results, 'utf8'))
  } catch (err) {
    usage(`cannot read results from ${opts.results}: ${err.message}`)
  }
  if (results === null || typeof results !== 'object' || Array.isArray(results)) {
    usage(`${opts.results} is not the suite's results object ({test_id: true | [error, message]})`)
  }
  const scored = score(suite, results)
  const { counts, failures, missing, unknown, cachedPasses } = scored

  if (opts.out !== undefined) {
    fs.mkdirSync(opts.out, { recursive: true })
    const summary = {
      suite_version: suite.version,
      results: path.basename(opts.results),
      ...counts,
      missing: missing.length,
      unknown: unknown.length,
      failures: failures.map(({ id, kind, name, reason, error, suite }) => ({ id, kind, name, reason, error, suite }))
    }
    fs.writeFileSync(path.join(opts.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n')
    fs.writeFileSync(path.join(opts.out, 'conformance.md'), markdown(suite, scored, opts))
  }

  for (const kind of KINDS) {
    const { passed, total } = counts[kind]
    console.log(`${kind.padEnd(8)} ${String(passed).padStart(3)}/${total} ${pct(passed, total).toFixed(1).padStart(5)}%`)
  }
  if (unknown.length > 0) console.log(`${unknown.length} results for tests this suite version does not run were ignored`)
  if (missing.length > 0) {
    const msg = `${missing.length} tests have no result (first: ${missing.slice(0, 3).join(', ')})`
    if (!opts.allowMissing) {
      console.error(`cache-tests-score: ${msg}: the run did not finish`)
      process.exit(2)
    }
    console.log(`${msg}; counted as not passed`)
  }
  if (opts.expectNoCache) {
    const expecting = [...suite.tests.values()].filter(t => t.expectsCached).length
    if (cachedPasses.length > 0) {
      console.log(`${cachedPasses.length} of the ${expecting} tests that expect a cached response passed without a cache: ${cachedPasses.join(', ')}`)
      process.exit(1)
    }
    console.log(`none of the ${expecting} tests that expect a cached response passed, as none can without a cache`)
  }
  const below = []
  const req = pct(counts.required.passed, counts.required.total)
  const opt = pct(counts.optimal.passed, counts.optimal.total)
  if (req < opts.minRequired) below.push(`required ${req.toFixed(1)}% < ${opts.minRequired}%`)
  if (opt < opts.minOptimal) below.push(`optimal ${opt.toFixed(1)}% < ${opts.minOptimal}%`)
  if (below.length > 0) {
    console.log(`below the bar: ${below.join(', ')}`)
    process.exit(1)
  }
}

main().catch(err => {
  console.error(`cache-tests-score: ${err.stack ?? err}`)
  process.exit(2)
})
