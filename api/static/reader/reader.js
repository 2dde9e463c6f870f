// The reader: a small client of the public API (no build step). It revalidates with ETags, follows
// cursor links, and renders issues, articles and the trend heat map from /v1/trends/timeline.
const API = document.documentElement.dataset.api || "";
const app = document.getElementById("app");
const etags = new Map(); // url -> {etag, body}: explicit revalidation, as any API client should do

const LABELS = JSON.parse(document.documentElement.dataset.ui || "{}"); // the page's words, from the server
let lang = localStorage.getItem("lang") || document.documentElement.lang || "en";
const t = (k) => (LABELS[lang] || LABELS.en || {})[k] || k;

async function api(path, params = {}) {
  const url = new URL(path, API || location.origin);
  for (const [k, v] of Object.entries(params)) if (v != null) url.searchParams.set(k, v);
  if (!url.searchParams.has("lang")) url.searchParams.set("lang", lang);
  const key = url.toString();
  const known = etags.get(key);
  const resp = await fetch(key, { headers: known ? { "If-None-Match": known.etag } : {}, cache: "no-cache" });
  if (resp.status === 304 && known) return known.body;
  const body = await resp.json();
  if (!resp.ok) throw new Error(`${resp.status} ${body.title || ""}: ${body.detail || ""}`);
  const etag = resp.headers.get("ETag");
  if (etag) etags.set(key, { etag, body });
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) if (c != null) node.append(c);
  return node;
}

const trendBadge = (trend) =>
  trend ? el("span", { class: `trend trend-${trend.slug}`, "data-trend": trend.slug }, trend.label) : null;
const articleHash = (a) => `#/article/${encodeURIComponent(a.slug)}`;

function articleItem(a) {
  return el("li", { "data-slug": a.slug },
    el("a", { href: articleHash(a), class: "article-link" }, a.title), trendBadge(a.trend),
    a.lead ? el("p", { class: "lead" }, a.lead) : null);
}

async function showIssue(id) {
  const { data: issue } = await api(id ? `/v1/issues/${encodeURIComponent(id)}` : "/v1/issues/latest");
  const pager = el("nav", { class: "pager" },
    issue.previous ? el("a", { href: `#/issue/${issue.previous.id}`, id: "prev-issue" }, t("previous")) : el("span"),
    issue.next ? el("a", { href: `#/issue/${issue.next.id}`, id: "next-issue" }, t("next")) : el("span"));
  app.replaceChildren(el("article", { id: "issue", "data-issue": issue.id },
    el("p", { class: "note" }, id ? "" : t("latest")),
    el("h2", { id: "issue-title" }, issue.title),
    issue.sections.length ? issue.sections.map((g) => el("section", { "data-section": g.section ? g.section.slug : "" },
      el("h3", {}, g.section ? g.section.name : t("other")),
      el("ul", { class: "articles" }, g.articles.map(articleItem)))) : el("p", {}, t("none")),
    pager));
  markCurrentIssue(issue.id);
}

// An image as the API describes it: a srcset of its WebP renditions, its size (the space is kept while it loads:
// no layout shift), its alt text. The lead image is above the fold, so it loads at once; the body's load lazily
// (image blocks of the body, drawn by renderBlock with the same attributes).
const SIZES = "(min-width: 42rem) 42rem, 100vw";
function imageTag(image, extra) {
  const webp = (image.renditions || []).filter((r) => r.type === "image/webp");
  const attrs = { src: image.url || image.src, alt: image.alt || "", decoding: "async", ...extra };
  if (webp.length) Object.assign(attrs, { srcset: webp.map((r) => `${r.url} ${r.width}w`).join(", "), sizes: SIZES });
  if (image.width) Object.assign(attrs, { width: image.width, height: image.height });
  return el("img", attrs);
}
function leadImage(image) {
  if (!image || !image.url) return null;
  const credit = [image.caption, image.credit && image.credit !== image.caption ? image.credit : null].filter(Boolean);
  return el("figure", { class: "lead-image" }, imageTag(image, {}),
    credit.length ? el("figcaption", {}, credit.join(" · ")) : null);
}

// The body is drawn from its blocks (format=blocks), as a native app would: the same model the HTML is rendered from.
const DECORATORS = new Set(["strong", "em", "code"]);

function spans(block) {
  const links = new Map((block.markDefs || []).map((d) => [d.key, d]));
  return block.children.map((s) => {
    const lines = s.text.split("\n");
    let node = el("span", {}, lines.flatMap((line, i) => (i ? [el("br"), line] : [line])));
    for (const mark of [...s.marks].reverse()) {
      if (DECORATORS.has(mark)) node = el(mark, {}, node);
      else if (links.has(mark)) node = el("a", { href: links.get(mark).href, rel: "noopener nofollow" }, node);
    }
    return node;
  });
}

function tableBlock(b) {
  const row = (r) => el("tr", {}, r.cells.map((c, i) => {
    const cell = el(r.header ? "th" : "td", r.header ? { scope: "col" } : {}, spans(c));
    if (b.align[i]) cell.style.textAlign = b.align[i];
    return cell;
  }));
  const head = b.rows.filter((r) => r.header);
  const body = b.rows.filter((r) => !r.header);
  return el("div", { class: "table-box" }, el("table", { class: "body-table" },
    head.length ? el("thead", {}, head.map(row)) : null, body.length ? el("tbody", {}, body.map(row)) : null));
}

function renderBlock(b) {
  switch (b.type) {
    case "paragraph": return el("p", {}, spans(b));
    // the article title is an h2: a body heading of level n is drawn one rank under it, its level kept in data-level
    case "heading": return el(`h${Math.min(6, b.level + 2)}`, { class: "body-heading", "data-level": String(b.level) }, spans(b));
    case "quote": return el("blockquote", {}, b.blocks.map(renderBlock));
    case "list": return el(b.ordered ? "ol" : "ul", b.start ? { start: b.start } : {},
      b.entries.map((entry) => el("li", {}, entry.blocks.map(renderBlock))));
    case "code": return el("pre", {}, el("code", b.language ? { "data-language": b.language } : {}, b.text));
    case "table": return tableBlock(b);
    case "image": return el("figure", {}, imageTag(b, { loading: "lazy" }), b.caption ? el("figcaption", {}, b.caption) : null);
    default: return null;
  }
}

function relatedList(items) {
  if (!items || !items.length) return null;
  return el("aside", { id: "related" }, el("h3", {}, t("related")), el("ul", { class: "articles" }, items.map(articleItem)));
}

async function showArticle(slug) {
  const { data: a, included } = await api(`/v1/articles/${encodeURIComponent(slug)}`, { format: "blocks", include: "related" });
  const body = el("div", { class: "body" }, (a.body.blocks || []).map(renderBlock));
  const translations = Object.entries(a.translations || {});
  app.replaceChildren(el("article", { id: "article", "data-slug": a.slug },
    el("p", {}, el("a", { href: a.issue ? `#/issue/${a.issue}` : "#/" }, t("back"))),
    el("h2", { id: "article-title" }, a.title), trendBadge(a.trend),
    el("p", { class: "note" }, [a.section ? a.section.name : null, a.issue, (a.authors || []).join(", ")].filter(Boolean).join(" · ")),
    a.lead ? el("p", { class: "lead" }, a.lead) : null, leadImage(a.image), body,
    translations.length ? el("p", { class: "note" }, `${t("translations")}: `,
      translations.map(([l, tr]) => el("a", { href: articleHash(tr), lang: l }, ` ${l.toUpperCase()} `))) : null),
    relatedList(included && included.related));
  if (a.issue) markCurrentIssue(a.issue);
}

async function showArticleList(query) {
  const params = Object.fromEntries(new URLSearchParams(query));
  const list = el("ul", { class: "articles", id: "article-list" });
  const more = el("button", { hidden: true }, t("more"));
  app.replaceChildren(el("section", {}, el("p", {}, el("a", { href: "#/" }, t("back"))),
    el("h2", {}, [params.section, params.issue, params.trend].filter(Boolean).join(" · ")), list, more));
  let page = await api("/v1/articles", params);
  const render = () => {
    list.append(...page.data.map(articleItem));
    more.hidden = !page.links.next;
  };
  render();
  more.onclick = async () => { page = await api(page.links.next); render(); }; // follow the cursor link as given
}

async function loadIssues() {
  const list = document.getElementById("issue-list");
  const more = document.getElementById("more-issues");
  list.replaceChildren();
  let page = await api("/v1/issues", { limit: 8 });
  const render = () => {
    list.append(...page.data.map((i) => el("li", { "data-issue": i.id }, el("a", { href: `#/issue/${i.id}` }, i.title))));
    more.hidden = !page.links.next;
  };
  render();
  more.textContent = t("earlier");
  more.onclick = async () => { page = await api(page.links.next); render(); };
  const panel = document.getElementById("issues-panel");
  panel.querySelector("h2").textContent = t("issues");
}

// The side panels appear once the issue is on screen, together: nothing already shown moves when they arrive.
function showPanels() {
  for (const id of ["issues-panel", "heatmap-panel"]) document.getElementById(id).hidden = false;
  showScrollHint();
}

function markCurrentIssue(id) {
  for (const li of document.querySelectorAll("#issue-list li")) li.classList.toggle("current", li.dataset.issue === id);
}

async function loadHeatmap() {
  const panel = document.getElementById("heatmap-panel");
  const box = document.getElementById("heatmap");
  panel.querySelector("h2").textContent = t("heat");
  let timeline;
  try {
    timeline = await api("/v1/trends/timeline");
  } catch (err) {
    box.replaceChildren(el("p", { class: "error" }, `${t("failed")} /v1/trends/timeline (${err.message})`));
    return;
  }
  const cells = new Map(timeline.data.map((c) => [`${c.section.slug}|${c.issue.id}`, c]));
  const names = new Map(timeline.data.map((c) => [c.section.slug, c.section.name]));
  const titles = new Map(timeline.data.map((c) => [c.issue.id, c.issue.title]));
  const arrow = { worse: "▼", unchanged: "■", better: "▲" };
  const day = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", timeZone: "UTC" });
  const years = []; // [year, number of columns], oldest first
  for (const id of timeline.meta.issues) {
    const year = id.slice(0, 4);
    if (years.length && years[years.length - 1][0] === year) years[years.length - 1][1] += 1;
    else years.push([year, 1]);
  }
  const table = el("table", { class: "heatmap" },
    el("thead", {},
      el("tr", { class: "years" }, el("td"), years.map(([year, n]) => el("th", { scope: "colgroup", colSpan: n, class: "year" }, year))),
      el("tr", {}, el("td"), timeline.meta.issues.map((id) => el("th", { scope: "col", title: titles.get(id) || id, "data-issue": id },
        day.format(new Date(`${id}T00:00:00Z`)))))),
    el("tbody", {}, timeline.meta.sections.map((slug) => el("tr", {},
      el("th", { scope: "row" }, names.get(slug) || slug),
      timeline.meta.issues.map((id) => {
        const c = cells.get(`${slug}|${id}`);
        if (!c) return el("td", { class: "cell-empty" });
        const href = `#/articles?${new URLSearchParams({ issue: c.issue.id, section: c.section.slug })}`;
        const title = `${c.section.name}, ${c.issue.title}: ${t(c.direction)} (${c.counts.worse}▼ ${c.counts.unchanged}■ ${c.counts.better}▲, ${c.total})`;
        return el("td", { class: `cell cell-${c.direction}`, "data-section": slug, "data-issue": id, "data-direction": c.direction },
          el("a", { href, title, "aria-label": title }, `${arrow[c.direction] || ""} ${c.total}`));
      })))));
  box.replaceChildren(table);
}

// The heat map scrolls sideways when it is wider than the screen (a phone): say so where it can be seen.
function showScrollHint() {
  const box = document.getElementById("heatmap");
  document.getElementById("heat-hint").hidden = box.scrollWidth <= box.clientWidth + 1;
}

// The page's own words in the chosen language (the server wrote them in the negotiated one).
function relabel() {
  document.documentElement.lang = lang;
  document.title = t("title");
  document.getElementById("site-name").textContent = t("site");
  document.getElementById("lang-label").textContent = t("language");
  document.getElementById("heat-hint").textContent = t("scroll");
  document.getElementById("legend-title").textContent = t("legend");
  for (const item of document.querySelectorAll("#legend li")) {
    item.lastChild.textContent = ` ${t(item.querySelector(".swatch").className.replace("swatch cell-", ""))}`;
  }
}

async function route() {
  const hash = decodeURIComponent(location.hash.slice(1) || "/");
  try {
    if (hash.startsWith("/issue/")) await showIssue(hash.slice(7));
    else if (hash.startsWith("/article/")) await showArticle(hash.slice(9));
    else if (hash.startsWith("/articles?")) await showArticleList(hash.slice(10));
    else await showIssue(null);
  } catch (err) {
    app.replaceChildren(el("p", { class: "error" }, `${t("failed")}: ${err.message}`));
  }
  document.body.dataset.ready = "1";
}

async function start() {
  const select = document.getElementById("lang");
  select.value = lang;
  select.onchange = async () => {
    lang = select.value;
    localStorage.setItem("lang", lang);
    relabel();
    await Promise.all([loadIssues(), loadHeatmap(), route()]);
    showScrollHint();
  };
  document.getElementById("controls").classList.remove("pending");
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", showScrollHint);
  if (lang !== document.documentElement.lang) relabel();
  await Promise.all([loadIssues().catch(() => {}), loadHeatmap(), route()]);
  showPanels();
}

start();
