// A small server-rendered site on the official Contentstack SDKs: what a team's
// own Next.js (or any) app does on each page request, without a framework, so
// that ttlab can start it, put its CDN or edge in front, and judge its pages.
//
// Per request: find the visitor's variants (from `personalize_variants` when an
// edge in front already decided, else from the Personalize Edge API with the
// visitor's cookie), fetch the page's entry from the Delivery API with those
// variants, render every field as HTML. Configuration comes from environment
// variables named as a Next.js app names them; see README.md.

import http from 'node:http';
import Personalize from '@contentstack/personalize-edge-sdk';
import contentstack, { QueryOperation } from '@contentstack/delivery-sdk';
import { jsonToHTML } from '@contentstack/utils';

/** The cookie in which the Personalize SDK keeps the visitor's user uid. */
const USER_COOKIE = 'cs-personalize-user-uid';
/** What the app says shared caches may do with a page: keep it 30 s. */
const PAGE_CACHE_CONTROL = 'public, max-age=0, s-maxage=30';
/** Error answers must not be kept by any cache. */
const ERROR_CACHE_CONTROL = 'no-store';

const env = process.env;
const required = (name) => {
  const v = env[name];
  if (!v) {
    console.error(`personalized-app: ${name} is not set (see README.md)`);
    process.exit(2);
  }
  return v;
};

const config = {
  apiKey: required('CONTENTSTACK_API_KEY'),
  deliveryToken: required('CONTENTSTACK_DELIVERY_TOKEN'),
  environment: required('CONTENTSTACK_ENVIRONMENT'),
  host: env.CONTENTSTACK_DELIVERY_API_HOST || undefined,
  port: env.CONTENTSTACK_DELIVERY_API_PORT ? Number(env.CONTENTSTACK_DELIVERY_API_PORT) : undefined,
  projectUid: env.CONTENTSTACK_PERSONALIZE_PROJECT_UID || '',
  edgeApiUrl: (env.NEXT_PUBLIC_CONTENTSTACK_PERSONALIZE_EDGE_API_URL || '').replace(/\/+$/, ''),
  listenPort: Number(env.PORT || 3000),
};

// A Delivery API on a loopback address (a local mock such as ttlab's) speaks
// plain HTTP; anything else is the real CDN and HTTPS. The SDK always puts the
// port in its base URL and defaults it to 443, so a local host needs `port`.
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;
const insecure = config.host !== undefined && LOOPBACK.test(config.host);

const stack = contentstack.stack({
  apiKey: config.apiKey,
  deliveryToken: config.deliveryToken,
  environment: config.environment,
  ...(config.host ? { host: config.host } : {}),
  ...(config.port ? { port: config.port } : {}),
  insecure,
  // One attempt: a failing API is reported as a 500 at once, not retried
  // behind the visitor's back.
  retryOnError: false,
});

// The edge URL is copied into each SDK instance by init: set it first, once.
if (config.edgeApiUrl) Personalize.setEdgeApiUrl(config.edgeApiUrl);

// ---------------------------------------------------------------- routes

/** The page a path shows: its content type, the entry's `url`, the references to include. */
function route(pathname) {
  if (pathname === '/') return { contentType: 'home_page', url: '/', include: ['sections.features.items'], render: renderHome };
  if (pathname === '/about') return { contentType: 'about_page', url: '/about', include: [], render: renderAbout };
  const blog = /^\/blog\/([a-z0-9]+(?:-[a-z0-9]+)*)$/.exec(pathname);
  if (blog) return { contentType: 'blog_post', url: pathname, include: ['author'], render: renderPost };
  return null;
}

// -------------------------------------------------------------- variants

function cookieValue(header, name) {
  for (const part of (header || '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

/**
 * The visitor's variant aliases, and the Set-Cookie lines to send back.
 *
 * Behind an edge that already asked Personalize, the URL carries its answer
 * (`personalize_variants=0_1,a_0`) and the app must not ask again. Otherwise
 * the SDK reads the user uid from the request's Cookie header, asks the Edge
 * API, and hands back the state to store in the browser — which only a
 * visitor without the cookie needs.
 */
async function variantsOf(req, url) {
  const param = url.searchParams.get(Personalize.VARIANT_QUERY_PARAM);
  if (param !== null) {
    // The SDK turns "" into ["cs_personalize_"]: no variants is no aliases.
    return { aliases: param === '' ? [] : Personalize.variantParamToVariantAliases(param), setCookies: [] };
  }
  if (!config.projectUid) return { aliases: [], setCookies: [] };
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const request = new Request(url, { headers });
  const sdk = await Personalize.init(config.projectUid, { request });
  const aliases = sdk.getVariantAliases();
  let setCookies = [];
  if (cookieValue(req.headers.cookie, USER_COOKIE) === null) {
    const state = new Response(null);
    sdk.addStateToResponse(state);
    setCookies = state.headers.getSetCookie();
  }
  return { aliases, setCookies };
}

// --------------------------------------------------------------- content

async function fetchEntry(page, aliases) {
  let entries = stack.contentType(page.contentType).entry();
  if (page.include.length) entries = entries.includeReference(page.include);
  if (aliases.length) entries = entries.variants(aliases);
  const result = await entries.query().where('url', QueryOperation.EQUALS, page.url).find();
  return result.entries?.[0] ?? null;
}

// ------------------------------------------------------------- rendering

const escapeHtml = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** Text with its line breaks kept. */
const lines = (s) => escapeHtml(s).replace(/\n/g, '<br>');

/** A file field: the Delivery API expands it into the asset; a bare uid has no URL to show. */
function image(asset, cls) {
  if (!asset) return '';
  if (typeof asset === 'string') return `<span class="${cls} missing-asset">${escapeHtml(asset)}</span>`;
  const alt = asset.title || asset.filename || '';
  return `<img class="${cls}" src="${escapeHtml(asset.url)}" alt="${escapeHtml(alt)}">`;
}

/** A link field: `{title, href}`. */
function linkTo(l, cls = 'link') {
  if (!l || !l.href) return '';
  return `<a class="${cls}" href="${escapeHtml(l.href)}">${escapeHtml(l.title || l.href)}</a>`;
}

/** A reference field: included entries come whole, others as `{uid, _content_type_uid}`. */
const referenced = (value) => (Array.isArray(value) ? value : value ? [value] : []);

/** Markdown shown as its text, one paragraph per blank-line-separated block. */
const markdownText = (md) =>
  String(md ?? '')
    .split(/\n{2,}/)
    .map((para) => `<p>${lines(para)}</p>`)
    .join('');

const dateText = (iso) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return escapeHtml(iso);
  const text = d.toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(text)}</time>`;
};

function layout(entry, main) {
  const seo = entry.seo || {};
  const title = seo.meta_title || entry.title;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
${seo.meta_description ? `<meta name="description" content="${escapeHtml(seo.meta_description)}">` : ''}
${seo.no_index ? '<meta name="robots" content="noindex">' : ''}
</head>
<body>
<header><nav><a href="/">Home</a> <a href="/about">About</a> <a href="/blog/caching-personalized-pages">Blog</a></nav></header>
<main data-entry="${escapeHtml(entry.uid)}">
${main}
</main>
</body>
</html>
`;
}

/** One modular block, `{<block uid>: {fields}}`. */
function renderBlock(block) {
  const [type, b] = Object.entries(block).find(([k]) => k !== '_metadata') || [];
  switch (type) {
    case 'hero':
      return `<section class="hero">
<h2>${escapeHtml(b.headline)}</h2>
<p>${lines(b.subheadline)}</p>
${image(b.image, 'hero-image')}
${linkTo(b.cta, 'cta')}
</section>`;
    case 'features': {
      const items = referenced(b.items)
        .map(
          (f) => `<li class="feature" data-entry="${escapeHtml(f.uid)}">
<h3>${escapeHtml(f.title ?? f.uid)}</h3>
${f.description !== undefined ? `<p>${lines(f.description)}</p>` : ''}
${image(f.icon, 'icon')}
</li>`,
        )
        .join('\n');
      return `<section class="features">
<h2>${escapeHtml(b.heading)}</h2>
<ul>
${items}
</ul>
</section>`;
    }
    case 'banner':
      return `<aside class="banner banner-${escapeHtml(b.tone)}">
<p>${escapeHtml(b.message)}</p>
${linkTo(b.link)}
</aside>`;
    default:
      return `<!-- unknown block ${escapeHtml(type)} -->`;
  }
}

function renderHome(entry) {
  const sections = (entry.sections || []).map(renderBlock).join('\n');
  return layout(entry, `<h1>${escapeHtml(entry.title)}</h1>\n${sections}`);
}

function renderPost(entry) {
  jsonToHTML({ entry, paths: ['body'] });
  const authors = referenced(entry.author)
    .map(
      (a) => `<div class="author" data-entry="${escapeHtml(a.uid)}">
${image(a.avatar, 'avatar')}
<p class="author-name">${escapeHtml(a.title ?? a.uid)}</p>
${a.bio !== undefined ? `<p class="bio">${lines(a.bio)}</p>` : ''}
${linkTo(a.profile)}
</div>`,
    )
    .join('\n');
  const reading = typeof entry.reading_time === 'number' ? `<span class="reading-time">${entry.reading_time} min read</span>` : '';
  return layout(
    entry,
    `<article>
<h1>${escapeHtml(entry.title)}</h1>
${entry.featured ? '<p class="badge">Featured</p>' : ''}
<p class="meta">${entry.published_on ? dateText(entry.published_on) : ''} ${reading}</p>
${image(entry.cover, 'cover')}
<div class="summary">${markdownText(entry.summary)}</div>
<div class="body">${typeof entry.body === 'string' ? entry.body : ''}</div>
${authors}
<p class="further">${linkTo(entry.further_reading)}</p>
</article>`,
  );
}

function renderAbout(entry) {
  const office = entry.office || {};
  const values = referenced(entry.values)
    .map((v) => `<li><h3>${escapeHtml(v.heading)}</h3><p>${lines(v.text)}</p></li>`)
    .join('\n');
  return layout(
    entry,
    `<h1>${escapeHtml(entry.title)}</h1>
<div class="body">${entry.body ?? ''}</div>
<section class="office">
<h2>Office</h2>
<p>${escapeHtml(office.city)}</p>
<address>${lines(office.address)}</address>
<p>${escapeHtml(office.phone)}</p>
</section>
<section class="values"><h2>Our values</h2><ul>
${values}
</ul></section>
<p class="stage">Company stage: ${escapeHtml(entry.stage)}</p>`,
  );
}

// ---------------------------------------------------------------- server

function send(res, status, headers, body, head) {
  res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
}

/** The text of a failed SDK call: the Delivery SDK's APIError carries a code and status. */
function errorText(err) {
  if (err && typeof err === 'object' && 'error_message' in err) {
    return `Delivery API error ${err.error_code} (status ${err.status}): ${err.error_message}`;
  }
  return String(err?.message ?? err);
}

async function handle(req, res) {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    send(res, 405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'cache-control': ERROR_CACHE_CONTROL }, 'method not allowed\n', head);
    return;
  }
  const url = new URL(req.url, `http://${req.headers.host || '127.0.0.1'}`);
  const page = route(url.pathname);
  if (!page) {
    send(res, 404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': ERROR_CACHE_CONTROL }, 'not found\n', head);
    return;
  }
  try {
    const { aliases, setCookies } = await variantsOf(req, url);
    const entry = await fetchEntry(page, aliases);
    if (!entry) {
      send(res, 404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': ERROR_CACHE_CONTROL }, `no ${page.contentType} entry has url ${page.url}\n`, head);
      return;
    }
    const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': PAGE_CACHE_CONTROL };
    if (setCookies.length) headers['set-cookie'] = setCookies;
    send(res, 200, headers, page.render(entry), head);
  } catch (err) {
    const text = errorText(err);
    console.error(`personalized-app: ${req.method} ${req.url}: ${text}`);
    send(res, 500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': ERROR_CACHE_CONTROL }, `${text}\n`, head);
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('personalized-app: unexpected', err);
    if (!res.headersSent) send(res, 500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': ERROR_CACHE_CONTROL }, 'internal error\n', false);
    else res.destroy();
  });
});

server.listen(config.listenPort, '127.0.0.1', () => {
  const { port } = server.address();
  const delivery = config.host ? `${insecure ? 'http' : 'https'}://${config.host}:${config.port ?? 443}` : 'the region default';
  console.log(`personalized-app listening on http://127.0.0.1:${port} (delivery ${delivery}, personalize ${config.projectUid ? config.edgeApiUrl || 'the default edge' : 'off'})`);
});

// ttlab (and most process managers) stop the app with SIGTERM: stop at once,
// with a clean exit status, rather than drain connections a load test keeps open.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
