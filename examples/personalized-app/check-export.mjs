// Checks that the example's stack export (export/) is consistent in itself and
// with scenario.toml, so an edit by hand cannot leave a dangling reference, a
// file field without its file, or a field its content type does not define.
// Run: node --test examples/personalized-app/check-export.mjs (no packages needed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXPORT = path.join(HERE, 'export');
const read = (rel) => JSON.parse(fs.readFileSync(path.join(EXPORT, rel), 'utf8'));
const exists = (rel) => fs.existsSync(path.join(EXPORT, rel));

// ------------------------------------------------------------ load it all

const contentTypes = read('content_types/schema.json');
const globalFields = read('global_fields/globalfields.json');
const masterLocales = Object.values(read('locales/master-locale.json'));
const otherLocales = Object.values(read('locales/locales.json'));
const environments = read('environments/environments.json');
const master = masterLocales[0]?.code;

/** Reads one FsUtility module folder: an index of chunk files, each an object uid → item. */
function readChunked(dir, indexName) {
  const index = read(`${dir}/${indexName}`);
  const items = {};
  const chunks = [];
  for (const [n, file] of Object.entries(index)) {
    assert.match(n, /^[1-9]\d*$/, `${dir}/${indexName}: keys are chunk numbers`);
    chunks.push(file);
    const chunk = read(`${dir}/${file}`);
    assert.ok(chunk && typeof chunk === 'object' && !Array.isArray(chunk), `${dir}/${file} is a JSON object`);
    for (const [uid, item] of Object.entries(chunk)) {
      assert.equal(item.uid, uid, `${dir}/${file}: the key of ${uid} is its uid`);
      assert.ok(!(uid in items), `${dir}: ${uid} appears once`);
      items[uid] = item;
    }
  }
  return { items, chunks };
}

const assetsChunked = readChunked('assets', 'assets.json');
const assets = assetsChunked.items;
const entries = {}; // uid → { ct, entry }
const entriesByType = {};
for (const ct of contentTypes) {
  const dir = `entries/${ct.uid}/${master}`;
  entriesByType[ct.uid] = exists(`${dir}/index.json`) ? readChunked(dir, 'index.json').items : {};
  for (const [uid, entry] of Object.entries(entriesByType[ct.uid])) {
    assert.ok(!(uid in entries), `entry uid ${uid} is unique across content types`);
    entries[uid] = { ct: ct.uid, entry };
  }
}

// ------------------------------------------------------- field validation

/** Keys the Content Management API puts on every exported entry beside its fields. */
const ENTRY_SYSTEM_KEYS = new Set(['uid', 'locale', 'tags', 'ACL', '_version', '_in_progress', 'publish_details']);
/** Keys the API puts on block and group instances. */
const NESTED_SYSTEM_KEYS = new Set(['_metadata']);

const globalField = (uid) => globalFields.find((g) => g.uid === uid);

/** Every problem with `value` as the value of `field`, at `where`. */
function checkField(field, value, where, problems) {
  if (value === undefined || value === null) {
    if (field.mandatory) problems.push(`${where}: mandatory field is missing`);
    return;
  }
  const many = field.multiple && field.data_type !== 'blocks' && field.data_type !== 'reference';
  if (many) {
    if (!Array.isArray(value)) problems.push(`${where}: a multiple field holds an array`);
    else value.forEach((v, i) => checkOne(field, v, `${where}[${i}]`, problems));
    return;
  }
  checkOne(field, value, where, problems);
}

function checkOne(field, value, where, problems) {
  const fm = field.field_metadata || {};
  switch (field.data_type) {
    case 'text':
      if (typeof value !== 'string') problems.push(`${where}: text holds a string`);
      else if (field.enum && !field.enum.choices.some((c) => c.value === value)) problems.push(`${where}: ${value} is not one of the select's choices`);
      break;
    case 'number':
      if (typeof value !== 'number') problems.push(`${where}: number holds a number`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${where}: boolean holds true or false`);
      break;
    case 'isodate':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) problems.push(`${where}: isodate holds an ISO date`);
      break;
    case 'file': {
      const uid = typeof value === 'string' ? value : value?.uid;
      const asset = assets[uid];
      if (!asset) problems.push(`${where}: file ${uid} is no asset of the export`);
      else if (!exists(`assets/files/${uid}/${asset.filename}`)) problems.push(`${where}: asset ${uid} has no file at assets/files/${uid}/${asset.filename}`);
      break;
    }
    case 'link':
      if (typeof value !== 'object' || typeof value.title !== 'string' || typeof value.href !== 'string') problems.push(`${where}: link holds {title, href}`);
      break;
    case 'reference': {
      if (!Array.isArray(value)) {
        problems.push(`${where}: reference holds an array of {uid, _content_type_uid}`);
        break;
      }
      if (!fm.ref_multiple && value.length > 1) problems.push(`${where}: a single reference holds at most one entry`);
      const to = Array.isArray(field.reference_to) ? field.reference_to : [field.reference_to];
      for (const r of value) {
        const target = entries[r?.uid];
        if (!target) problems.push(`${where}: reference to ${r?.uid}, which is no entry of the export`);
        else if (target.ct !== r._content_type_uid) problems.push(`${where}: ${r.uid} is a ${target.ct}, not a ${r._content_type_uid}`);
        else if (!to.includes(target.ct)) problems.push(`${where}: ${r.uid} is a ${target.ct}; the field refers to ${to.join(', ')}`);
      }
      break;
    }
    case 'group':
      checkFields(field.schema, value, where, problems, NESTED_SYSTEM_KEYS);
      break;
    case 'global_field': {
      const g = globalField(field.reference_to);
      if (!g) problems.push(`${where}: global field ${field.reference_to} is not in global_fields/globalfields.json`);
      else checkFields(g.schema, value, where, problems, NESTED_SYSTEM_KEYS);
      break;
    }
    case 'blocks':
      if (!Array.isArray(value)) {
        problems.push(`${where}: modular blocks hold an array`);
        break;
      }
      value.forEach((item, i) => {
        const keys = Object.keys(item || {});
        if (keys.length !== 1) {
          problems.push(`${where}[${i}]: a block instance is {<block uid>: {fields}}`);
          return;
        }
        const block = field.blocks.find((b) => b.uid === keys[0]);
        if (!block) problems.push(`${where}[${i}]: no block ${keys[0]} in the field`);
        else checkFields(block.schema, item[keys[0]], `${where}[${i}].${keys[0]}`, problems, NESTED_SYSTEM_KEYS);
      });
      break;
    case 'json':
      if (fm.allow_json_rte && (value?.type !== 'doc' || !Array.isArray(value.children))) problems.push(`${where}: JSON RTE holds a {type: "doc", children} node`);
      break;
    default:
      problems.push(`${where}: unknown data_type ${field.data_type}`);
  }
}

function checkFields(schema, object, where, problems, systemKeys) {
  if (!object || typeof object !== 'object' || Array.isArray(object)) {
    problems.push(`${where}: holds an object`);
    return;
  }
  for (const field of schema) checkField(field, object[field.uid], `${where}.${field.uid}`, problems);
  for (const key of Object.keys(object)) {
    if (!schema.some((f) => f.uid === key) && !systemKeys.has(key)) problems.push(`${where}.${key}: not a field of the schema`);
  }
}

// ------------------------------------------------------------------ tests

test('the export has the folders cm:stacks:export writes', () => {
  for (const f of [
    'content_types/schema.json',
    'global_fields/globalfields.json',
    'locales/locales.json',
    'locales/master-locale.json',
    'environments/environments.json',
    'assets/assets.json',
    'assets/metadata.json',
  ]) {
    assert.ok(exists(f), `${f} exists`);
  }
  assert.equal(masterLocales.length, 1, 'one master locale');
  assert.equal(master, 'en-us');
  for (const l of otherLocales) assert.ok(l.code && l.uid && 'fallback_locale' in l, `locale ${l.uid} has code, uid, fallback_locale`);
  for (const [uid, e] of Object.entries(environments)) {
    assert.equal(e.uid, uid);
    assert.ok(e.name, `environment ${uid} has a name`);
  }
});

test('each content type has its own file, equal to its item in schema.json', () => {
  assert.ok(contentTypes.length >= 5);
  for (const ct of contentTypes) {
    assert.deepEqual(read(`content_types/${ct.uid}.json`), ct, ct.uid);
    assert.ok(ct.schema.some((f) => f.uid === 'title' && f.data_type === 'text'), `${ct.uid} has a title`);
  }
  const files = fs.readdirSync(path.join(EXPORT, 'content_types')).filter((f) => f !== 'schema.json');
  assert.deepEqual(files.sort(), contentTypes.map((ct) => `${ct.uid}.json`).sort(), 'no stray content type file');
});

test('global fields used by content types exist and carry their schema', () => {
  const walk = (schema, where) => {
    for (const f of schema) {
      if (f.data_type === 'global_field') {
        const g = globalField(f.reference_to);
        assert.ok(g, `${where}.${f.uid}: global field ${f.reference_to} exists`);
        assert.deepEqual(f.schema, g.schema, `${where}.${f.uid}: exported with include_global_field_schema`);
      }
      if (f.schema) walk(f.schema, `${where}.${f.uid}`);
      for (const b of f.blocks || []) walk(b.schema || [], `${where}.${f.uid}.${b.uid}`);
    }
  };
  for (const ct of contentTypes) walk(ct.schema, ct.uid);
});

test('every entry matches its content type: known fields, right shapes, references and files that exist', () => {
  const problems = [];
  for (const [uid, { ct, entry }] of Object.entries(entries)) {
    const schema = contentTypes.find((c) => c.uid === ct).schema;
    checkFields(schema, entry, `${ct}/${uid}`, problems, ENTRY_SYSTEM_KEYS);
    if (entry.locale !== master) problems.push(`${ct}/${uid}: locale ${entry.locale} is not the master locale`);
    if (!Number.isInteger(entry._version) || entry._version < 1) problems.push(`${ct}/${uid}: _version is a positive integer`);
    for (const p of [].concat(entry.publish_details || [])) {
      if (!environments[p.environment]) problems.push(`${ct}/${uid}: published to unknown environment ${p.environment}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(Object.keys(entries).length >= 10);
});

test('every asset has its file, of the size its metadata says, and metadata.json lists it', () => {
  const meta = read('assets/metadata.json');
  assert.deepEqual(Object.keys(meta).sort(), [...assetsChunked.chunks].sort(), 'metadata.json has one list per chunk');
  const listed = Object.values(meta).flat();
  for (const [uid, a] of Object.entries(assets)) {
    const file = path.join(EXPORT, 'assets/files', uid, a.filename);
    assert.ok(fs.existsSync(file), `${uid}: ${file}`);
    assert.equal(String(fs.statSync(file).size), a.file_size, `${uid}: file_size`);
    assert.ok(a.url.endsWith(`/${a.filename}`), `${uid}: the url ends with the filename`);
    assert.ok(listed.some((m) => m.uid === uid && m.filename === a.filename && m.url === a.url), `${uid} in metadata.json`);
  }
  const dirs = fs.readdirSync(path.join(EXPORT, 'assets/files'));
  assert.deepEqual(dirs.sort(), Object.keys(assets).sort(), 'no file without its asset');
  const bytes = fs.readFileSync(path.join(EXPORT, 'assets/files', Object.keys(assets).find((u) => assets[u].content_type === 'image/png'), 'hero.png'));
  assert.equal(bytes.subarray(1, 4).toString(), 'PNG', 'the PNG is a PNG');
});

// ------------------------------------------------ the scenario names the export

/**
 * The tables of scenario.toml as [header, body] pairs, and the quoted strings
 * of a `key = [...]` array in a body: a small reader, enough for this file.
 */
const scenarioText = fs.readFileSync(path.join(HERE, 'scenario.toml'), 'utf8').replace(/^\s*#.*$/gm, '');
const tables = scenarioText.split(/^(?=\[)/m).map((t) => [t.slice(0, t.indexOf('\n')).trim(), t]);
const strings = (body, key) => {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*\\[([^\\]]*)\\]`, 'm').exec(body);
  return m ? [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]) : [];
};
const string = (body, key) => new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'm').exec(body)?.[1];

test('scenario.toml names entries and content types of the export', () => {
  assert.equal(string(tables.find(([h]) => h === '[content]')[1], 'export'), 'export');
  const experiences = tables.filter(([h]) => h === '[[experiences]]');
  assert.equal(experiences.length, 2);
  for (const [, body] of experiences) {
    for (const uid of strings(body, 'entries')) assert.ok(entries[uid], `${uid} is an entry of the export`);
    for (const ct of strings(body, 'content_types')) assert.ok(Object.keys(entriesByType[ct] || {}).length, `${ct} is a content type of the export, with entries`);
    assert.ok(strings(body, 'entries').length + strings(body, 'content_types').length > 0, 'each experience varies some content');
  }
});

test('each page of the scenario renders first the entry at its url, and every page entry of the export is a page', () => {
  const pages = tables.filter(([h]) => h === '[[content.pages]]').map(([, body]) => ({ path: string(body, 'path'), entries: strings(body, 'entries') }));
  assert.ok(pages.length >= 5, 'pages for /, /about and the blog posts');
  for (const page of pages) {
    assert.ok(page.entries.length > 0, `${page.path} names its entries`);
    for (const uid of page.entries) assert.ok(entries[uid], `${page.path}: ${uid} is an entry of the export`);
    const first = entries[page.entries[0]].entry;
    assert.equal(first.url, page.path, `${page.path} renders first the entry whose url it is`);
    // The app includes the page entry's references and renders them: the page lists them too.
    const refs = new Set();
    const walk = (v) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        if (typeof v._content_type_uid === 'string') refs.add(v.uid);
        else Object.values(v).forEach(walk);
      }
    };
    walk(first);
    assert.deepEqual([...refs].filter((uid) => !page.entries.includes(uid)), [], `${page.path} lists the entries it references`);
  }
  for (const { ct, entry } of Object.values(entries)) {
    if ('url' in entry) assert.ok(pages.some((p) => p.path === entry.url), `${ct} ${entry.uid} at ${entry.url} is a page of the scenario`);
  }
});
