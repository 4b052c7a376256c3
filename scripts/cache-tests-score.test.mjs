// Tests of the conformance scorer on the pinned suite's published nginx result, edited to
// put each rule to work: `node --test scripts/cache-tests-score.test.mjs` (needs `npm ci` in
// conformance/cache-tests). Each case runs the real script as a process.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import test from 'node:test'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const scorer = path.join(here, 'cache-tests-score.mjs')
const published = path.join(here, '..', 'conformance', 'cache-tests', 'node_modules', 'http-cache-tests', 'results', 'nginx.json')

function score (results, ...args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-score-'))
  try {
    const file = path.join(dir, 'results.json')
    fs.writeFileSync(file, JSON.stringify(results))
    const run = spawnSync('node', [scorer, '--results', file, '--out', dir, ...args], { encoding: 'utf8', timeout: 30000 })
    const summary = fs.existsSync(path.join(dir, 'summary.json'))
      ? JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'))
      : undefined
    const markdown = fs.existsSync(path.join(dir, 'conformance.md')) ? fs.readFileSync(path.join(dir, 'conformance.md'), 'utf8') : ''
    return { status: run.status, stdout: run.stdout, stderr: run.stderr, summary, markdown }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const nginx = () => JSON.parse(fs.readFileSync(published, 'utf8'))
const failure = (summary, id) => summary.failures.find(f => f.id === id)

test('the published nginx result: counts per kind, the bars decide the exit status', () => {
  const low = score(nginx())
  assert.equal(low.status, 1, low.stdout + low.stderr)
  assert.deepEqual(low.summary.required, { passed: 94, total: 165 })
  assert.deepEqual(low.summary.optimal, { passed: 50, total: 95 })
  assert.deepEqual(low.summary.check, { passed: 27, total: 90 })
  assert.equal(low.summary.suite_version, '0.4.5')
  assert.match(low.markdown, /\| required \| 94 \| 165 \| 57\.0% \|/)
  assert.equal(score(nginx(), '--min-required', '56.9', '--min-optimal', '52.6').status, 0)
  assert.equal(score(nginx(), '--min-required', '57', '--min-optimal', '0').status, 1)
})

test('a passed test whose dependency failed is not passed, transitively', () => {
  const results = nginx()
  // freshness-max-age-ignore-quoted depends on freshness-max-age, which depends on
  // freshness-none; all three pass in the published result.
  for (const id of ['freshness-none', 'freshness-max-age', 'freshness-max-age-ignore-quoted']) {
    assert.equal(results[id], true, id)
  }
  const before = score(results, '--min-required', '0', '--min-optimal', '0').summary
  assert.equal(failure(before, 'freshness-max-age-ignore-quoted'), undefined)
  results['freshness-none'] = ['Assertion', 'Response 2 comes from cache']
  const after = score(results, '--min-required', '0', '--min-optimal', '0').summary
  assert.equal(failure(after, 'freshness-none').reason, 'Response 2 comes from cache')
  assert.equal(failure(after, 'freshness-max-age').reason, 'dependency failed: freshness-none')
  const twoAway = failure(after, 'freshness-max-age-ignore-quoted')
  assert.equal(twoAway.reason, 'dependency failed: freshness-max-age')
  assert.equal(twoAway.kind, 'required')
  assert.ok(after.required.passed < before.required.passed)
})

test('setup errors and retries are not passes', () => {
  const results = nginx()
  // Neither test has dependents, so exactly these two change.
  results['freshness-max-age-0'] = ['Setup', 'PUT config resulted in 405 Method Not Allowed']
  results['freshness-max-age-space-before-equals'] = ['Setup', 'retry']
  const { summary } = score(results, '--min-required', '0', '--min-optimal', '0')
  assert.deepEqual(summary.required, { passed: 93, total: 165 })
  assert.deepEqual(summary.check, { passed: 26, total: 90 })
  assert.equal(failure(summary, 'freshness-max-age-0').error, 'Setup')
  assert.equal(failure(summary, 'freshness-max-age-space-before-equals').reason, 'the cache retried a request')
})

test('a results file missing a test is an unfinished run unless --allow-missing', () => {
  const results = nginx()
  delete results['freshness-max-age']
  const refused = score(results, '--min-required', '0', '--min-optimal', '0')
  assert.equal(refused.status, 2)
  assert.match(refused.stderr, /did not finish/)
  const allowed = score(results, '--min-required', '0', '--min-optimal', '0', '--allow-missing')
  assert.equal(allowed.status, 0)
  assert.equal(failure(allowed.summary, 'freshness-max-age').reason, 'no result')
  assert.equal(allowed.summary.missing, 1)
})

test('--expect-no-cache fails when a test expecting a cached response passed', () => {
  assert.equal(score(nginx(), '--min-required', '0', '--min-optimal', '0', '--expect-no-cache').status, 1)
  const nothingCached = Object.fromEntries(Object.keys(nginx()).map(id => [id, ['Assertion', 'Response 2 does not come from cache']]))
  assert.equal(score(nothingCached, '--min-required', '0', '--min-optimal', '0', '--expect-no-cache').status, 0)
})

test('bad input exits 2', () => {
  assert.equal(score([1, 2, 3]).status, 2)
  assert.equal(score(nginx(), '--min-required', '120').status, 2)
})
