// The official Contentstack JavaScript SDKs against ttlab's mock APIs.
//
// Run by mock-apis/tests/sdk_compat.rs, which starts the mocks for the shipped
// quickstart scenario with the run clock pinned at 0 and passes their URLs:
//   TTLAB_PERSONALIZE_URL, TTLAB_DELIVERY_URL, TTLAB_VISITOR_UID
// Expected answers come from the mocks' truth endpoints, so a mock that
// answered the SDKs wrongly, or that the SDKs could not parse, fails here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Personalize from '@contentstack/personalize-edge-sdk';
import contentstack, { QueryOperation } from '@contentstack/delivery-sdk';

const P = process.env.TTLAB_PERSONALIZE_URL;
const D = new URL(process.env.TTLAB_DELIVERY_URL);
const VISITOR = process.env.TTLAB_VISITOR_UID;
assert.ok(P && D && VISITOR && process.env.TTLAB_EXPORT_DELIVERY_URL, 'run through cargo test (mock-apis/tests/sdk_compat.rs)');

const creds = await (await fetch(`${P}/_ttlab/credentials`)).json();
const truth = async (uid) => (await fetch(`${P}/_ttlab/truth/variants?visitor=${encodeURIComponent(uid)}`)).json();
const metrics = async () => (await fetch(`${P}/metrics`)).text();
const tokenOf = (text) => {
  const m = /\[\[ttlab:e=([^;]+);v=([^;]+);n=(\d+)\]\]/.exec(text);
  assert.ok(m, `a content token in ${text}`);
  return { entry: m[1], variant: m[2], version: Number(m[3]) };
};
const stack = (extra = {}) =>
  contentstack.stack({
    apiKey: creds.api_key,
    deliveryToken: creds.delivery_token,
    environment: creds.environment,
    host: D.hostname,
    port: Number(D.port),
    insecure: true,
    retryOnError: false,
    ...extra,
  });

Personalize.setEdgeApiUrl(P);

test('Personalize.init for a visitor of the scenario gives the truth', async () => {
  const sdk = await Personalize.init(creds.project_uid, { userId: VISITOR });
  assert.equal(sdk.getUserId(), VISITOR, 'the SDK adopts the uid the mock echoes');
  const t = await truth(VISITOR);
  assert.equal(t.in_population, true);
  assert.deepEqual(sdk.getVariantAliases(), t.aliases);
  assert.equal(sdk.getVariantParam(), t.aliases.map((a) => a.replace('cs_personalize_', '')).join(','));
  assert.deepEqual(Personalize.variantParamToVariantAliases(sdk.getVariantParam()), t.aliases.length ? t.aliases : ['cs_personalize_']);
  for (const [exp, variant] of Object.entries(t.variants)) {
    assert.equal(sdk.getActiveVariant(exp), variant, `experience ${exp}`);
  }
});

test('a new user gets a minted uid; set() moves it into a segment', async () => {
  const sdk = await Personalize.init(creds.project_uid);
  const uid = sdk.getUserId();
  assert.match(uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(sdk.getActiveVariant('a'), null, 'no country yet: not in the geo segment');
  await sdk.set({ country: 'DE' });
  const again = await Personalize.init(creds.project_uid, { userId: uid });
  assert.equal(again.getActiveVariant('a'), '0', 'DE is the German-speaking segment');
  assert.ok(again.getVariantAliases().includes('cs_personalize_a_0'));
  assert.deepEqual(again.getVariantAliases(), (await truth(uid)).aliases);
  // Live attributes apply to one evaluation only.
  const live = await Personalize.init(creds.project_uid, { userId: uid, liveAttributes: { country: 'FR' } });
  assert.equal(live.getActiveVariant('a'), '1');
  const after = await Personalize.init(creds.project_uid, { userId: uid });
  assert.equal(after.getActiveVariant('a'), '0');
});

test('triggerEvent and triggerImpressions are counted', async () => {
  const sdk = await Personalize.init(creds.project_uid, { userId: VISITOR });
  await sdk.triggerEvent('ttlab_signup');
  await sdk.triggerEvent('ttlab_signup');
  const aliases = sdk.getVariantAliases();
  assert.ok(aliases.length > 0, 'the quickstart A/B test gives everyone a variant');
  await sdk.triggerImpressions({ aliases });
  const text = await metrics();
  assert.match(text, /ttlab_mock_events_total\{event_key="ttlab_signup"\} 2/);
  const [exp, variant] = aliases[0].replace('cs_personalize_', '').split('_');
  assert.match(text, new RegExp(`ttlab_mock_impressions_total\\{experience="${exp}",variant="${variant}"\\} [1-9]`));
});

test('setUserId with preserveUserAttributes merges attributes', async () => {
  const sdk = await Personalize.init(creds.project_uid);
  await sdk.set({ country: 'FR' });
  await sdk.setUserId('ttlab-known-user', { preserveUserAttributes: true });
  const merged = await Personalize.init(creds.project_uid, { userId: 'ttlab-known-user' });
  assert.equal(merged.getActiveVariant('a'), '1');
});

test('an unknown project is "Project not found"', async () => {
  await assert.rejects(Personalize.init('no-such-project'), /Project not found: no-such-project/);
});

test('Delivery: entry().variants().fetch() applies the visitor\'s variant', async () => {
  const t = await truth(VISITOR);
  const hero = await stack().contentType('hero').entry('home_hero').variants(t.aliases).fetch();
  assert.equal(hero.uid, 'home_hero');
  const served = t.aliases.find((a) => a.startsWith('cs_personalize_0_'));
  const token = tokenOf(hero.title);
  assert.deepEqual(token, { entry: 'home_hero', variant: served, version: 1 });
  assert.equal(hero.publish_details.environment.startsWith('blt'), true);
  const variantDetails = Object.values(hero.publish_details.variants);
  assert.equal(variantDetails[0].alias, served);
  const base = await stack().contentType('hero').entry('home_hero').fetch();
  assert.equal(tokenOf(base.body).variant, 'base');
});

test('Delivery: query().where().find() and includeCount/limit/skip', async () => {
  const one = await stack().contentType('product').entry().query().where('uid', QueryOperation.EQUALS, 'product_3_0').find();
  assert.equal(one.entries.length, 1);
  assert.equal(one.entries[0].uid, 'product_3_0');
  assert.equal(one.count, undefined);
  const page = await stack().contentType('product').entry().includeCount().limit(4).skip(8).find();
  assert.equal(page.count, 10);
  assert.deepEqual(page.entries.map((e) => e.uid), ['product_8_0', 'product_9_0']);
  const several = await stack()
    .contentType('product')
    .entry()
    .query()
    .where('uid', QueryOperation.INCLUDES, ['product_1_0', 'product_2_0'])
    .find();
  assert.equal(several.entries.length, 2);
  const variants = await stack().contentType('banner').entry().variants('cs_personalize_a_1').find();
  assert.equal(tokenOf(variants.entries[0].title).variant, 'cs_personalize_a_1');
});

test('Delivery errors reach the caller with their codes', async () => {
  await assert.rejects(stack().contentType('hero').entry('no-such-entry').fetch(), (e) => {
    assert.equal(e.error_code, 141);
    assert.equal(e.status, 422);
    assert.equal(e.error_message, "The requested object doesn't exist.");
    return true;
  });
  await assert.rejects(stack({ deliveryToken: 'wrong' }).contentType('hero').entry('home_hero').fetch(), (e) => {
    assert.equal(e.error_code, 105);
    assert.equal(e.status, 412);
    return true;
  });
  await assert.rejects(stack({ apiKey: 'wrong' }).contentType('hero').entry('home_hero').fetch(), (e) => {
    assert.equal(e.error_code, 109);
    return true;
  });
  // With the SDK's default retries, a bad token still comes back at once
  // with its code: the mock does not answer 401, which the SDK retries.
  const started = Date.now();
  await assert.rejects(stack({ deliveryToken: 'wrong', retryOnError: true }).contentType('hero').entry('home_hero').fetch(), (e) => e.error_code === 105);
  assert.ok(Date.now() - started < 250, 'no retry delays');
});

// ---------------------------------------------------------------------------
// A stack export (mock-apis/tests/fixtures/export/) served by a second pair
// of mocks: the Delivery SDK's calls an app makes on its own content model,
// and the shapes it reads back. TTLAB_EXPORT_DELIVERY_URL names them.

const X = new URL(process.env.TTLAB_EXPORT_DELIVERY_URL);
const site = (extra = {}) => stack({ host: X.hostname, port: Number(X.port), ...extra });
const textOf = (s) => s.split(' [[ttlab:')[0];
const uidsOf = (r) => r.entries.map((e) => e.uid);

test('export: entry fetch has every field in its CDA shape, with tokens', async () => {
  const home = await site().contentType('page').entry('blt_p_home').fetch();
  assert.equal(home.uid, 'blt_p_home');
  assert.equal(home._version, 3);
  assert.equal(home.locale, 'en-us');
  assert.deepEqual(tokenOf(home.title), { entry: 'blt_p_home', variant: 'base', version: 1 });
  assert.equal(textOf(home.title), 'Home');
  assert.equal(home.url, '/', 'no token in a URL');
  assert.equal(home.colour, 'red', 'no token in a select');
  assert.equal(home.rank, 1);
  assert.equal(home.featured, true);
  assert.equal(tokenOf(home.seo.meta_title).entry, 'blt_p_home');
  assert.equal(textOf(home.box[0].label), 'First box');
  assert.equal(textOf(home.sections[0].hero.heading), 'Big hero');
  const leaf = home.doc.children[1].children[2].children[0].text;
  assert.equal(tokenOf(leaf).entry, 'blt_p_home', 'JSON RTE: the last text leaf');
  assert.deepEqual(home.cta, { title: 'Read more', href: '/about' });
  assert.equal(home.publish_details.environment, 'blt_env_prod');
  assert.equal(home.image.uid, 'blt_asset_hero');
  assert.ok(home.image.url.startsWith(`${X.origin}/v3/assets/`), home.image.url);
  assert.deepEqual(home.authors[0], { uid: 'blt_a_ada', _content_type_uid: 'author' });
});

test('export: includeReference expands references, nested paths too', async () => {
  // Entry has no includeReferenceContentTypeUID(); Entries has.
  const home = await site().contentType('page').entry('blt_p_home').includeReference('authors.books', 'box.author').fetch();
  assert.equal(textOf(home.authors[0].title), 'Ada Lovelace');
  assert.equal(home.authors[0]._content_type_uid, undefined);
  assert.equal(tokenOf(home.authors[0].title).entry, 'blt_a_ada');
  assert.equal(home.authors[1].books[0].year, 1950);
  assert.equal(textOf(home.box[0].author[0].title), 'Ada Lovelace');
  const pages = await site().contentType('page').entry().includeReference('authors').includeReferenceContentTypeUID().find();
  assert.equal(textOf(pages.entries[0].authors[0].title), 'Alan Turing');
  assert.equal(pages.entries[0].authors[0]._content_type_uid, 'author');
});

test('export: only and except', async () => {
  const only = await site().contentType('page').entry('blt_p_home').only(['title', 'url']).fetch();
  assert.deepEqual(Object.keys(only).sort(), ['title', 'uid', 'url']);
  const one = await site().contentType('page').entry().only('rank').find();
  assert.deepEqual(one.entries.map((e) => Object.keys(e).sort()), [['rank', 'uid'], ['rank', 'uid'], ['rank', 'uid']]);
  const except = await site().contentType('page').entry('blt_p_home').except(['body', 'seo']).fetch();
  assert.equal(except.body, undefined);
  assert.equal(except.seo, undefined);
  assert.equal(textOf(except.title), 'Home');
});

test('export: where, containedIn, regex, referenceIn, tags, or match the export\'s values', async () => {
  const pages = () => site().contentType('page').entry().query();
  assert.deepEqual(uidsOf(await pages().where('title', QueryOperation.EQUALS, 'Home').find()), ['blt_p_home']);
  assert.deepEqual(uidsOf(await pages().where('rank', QueryOperation.IS_GREATER_THAN, 1).find()), ['blt_p_about', 'blt_p_blog']);
  assert.deepEqual(uidsOf(await pages().lessThanOrEqualTo('rank', 2).find()), ['blt_p_about', 'blt_p_home']);
  assert.deepEqual(uidsOf(await pages().containedIn('url', ['/', '/blog']).find()), ['blt_p_home', 'blt_p_blog']);
  assert.deepEqual(uidsOf(await pages().notContainedIn('url', ['/', '/blog']).find()), ['blt_p_about']);
  assert.deepEqual(uidsOf(await pages().regex('title', '^b', 'i').find()), ['blt_p_blog']);
  assert.deepEqual(uidsOf(await pages().notExists('image').find()), ['blt_p_blog']);
  assert.deepEqual(uidsOf(await pages().where('seo.meta_title', QueryOperation.EQUALS, 'About | Site').find()), ['blt_p_about']);
  const ada = site().contentType('author').entry().query().where('title', QueryOperation.EQUALS, 'Ada Lovelace');
  assert.deepEqual(uidsOf(await pages().referenceIn('authors', ada).find()), ['blt_p_home']);
  const ada2 = site().contentType('author').entry().query().where('title', QueryOperation.EQUALS, 'Ada Lovelace');
  assert.deepEqual(uidsOf(await pages().referenceNotIn('authors', ada2).find()), ['blt_p_about', 'blt_p_blog']);
  assert.deepEqual(uidsOf(await pages().tags(['company']).find()), ['blt_p_about']);
  const home = pages().where('rank', QueryOperation.EQUALS, 1);
  const blog = pages().where('title', QueryOperation.EQUALS, 'Blog');
  assert.deepEqual(uidsOf(await pages().or(home, blog).find()), ['blt_p_home', 'blt_p_blog']);
  await assert.rejects(pages().where('rank', '$near', 1).find(), (e) => {
    assert.equal(e.status, 422);
    assert.match(e.error_message, /\$near/);
    return true;
  });
});

test('export: includeCount, skip, limit, order', async () => {
  const page = await site().contentType('page').entry().includeCount().skip(1).limit(1).find();
  assert.equal(page.count, 3);
  assert.deepEqual(uidsOf(page), ['blt_p_home']);
  const byRank = await site().contentType('page').entry().query().orderByDescending('rank').find();
  assert.deepEqual(uidsOf(byRank), ['blt_p_blog', 'blt_p_about', 'blt_p_home']);
});

test('export: locale with and without fallback', async () => {
  const fr = await site().contentType('page').entry('blt_p_home').locale('fr-fr').fetch();
  assert.equal(fr.locale, 'fr-fr');
  assert.equal(textOf(fr.title), 'Accueil');
  await assert.rejects(site().contentType('page').entry('blt_p_about').locale('fr-fr').fetch(), (e) => {
    assert.equal(e.error_code, 141);
    assert.equal(e.status, 422);
    return true;
  });
  const fell = await site().contentType('page').entry('blt_p_about').locale('fr-fr').includeFallback().fetch();
  assert.equal(fell.locale, 'en-us');
  const all = await site().contentType('page').entry().locale('de-de').includeFallback().find();
  assert.deepEqual(all.entries.map((e) => e.locale), ['en-us', 'fr-fr', 'en-us']);
  const stackLocale = await site({ locale: 'fr-fr' }).contentType('page').entry().find();
  assert.deepEqual(uidsOf(stackLocale), ['blt_p_home']);
});

test('export: variants apply to the entry and to its references', async () => {
  const home = await site().contentType('page').entry('blt_p_home').variants(['cs_personalize_0_1']).includeReference('authors').fetch();
  assert.equal(textOf(home.title), 'Home (cs_personalize_0_1)');
  assert.equal(tokenOf(home.title).variant, 'cs_personalize_0_1');
  assert.equal(Object.values(home.publish_details.variants)[0].alias, 'cs_personalize_0_1');
  assert.equal(tokenOf(home.authors[0].title).variant, 'cs_personalize_0_1');
});

test('export: assets and their files, content types', async () => {
  const hero = await site().asset('blt_asset_hero').fetch();
  assert.equal(hero.filename, 'hero image.png');
  assert.equal(hero.content_type, 'image/png');
  const file = await fetch(hero.url);
  assert.equal(file.status, 200);
  assert.equal(file.headers.get('content-type'), 'image/png');
  const bytes = new Uint8Array(await file.arrayBuffer());
  assert.equal(String(bytes.length), hero.file_size);
  assert.deepEqual([...bytes.slice(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
  const assets = await site().asset().includeCount().find();
  assert.equal(assets.count, 2);
  const svgs = await site().asset().query().where('content_type', QueryOperation.EQUALS, 'image/svg+xml').find();
  assert.deepEqual(svgs.assets.map((a) => a.uid), ['blt_asset_dot']);
  const page = await site().contentType('page').fetch();
  assert.equal(page.uid, 'page');
  assert.equal(page.schema.find((f) => f.uid === 'seo').data_type, 'global_field');
  const types = await site().contentType().find();
  assert.deepEqual(types.content_types.map((c) => c.uid), ['page', 'author', 'book']);
});
