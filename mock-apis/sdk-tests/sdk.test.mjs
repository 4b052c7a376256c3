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
assert.ok(P && D && VISITOR, 'run through cargo test (mock-apis/tests/sdk_compat.rs)');

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
