"""The two pages for people: the API documentation (/docs) and the reader (/).

Both are plain HTML with external, fingerprinted assets only (api/assets.py), under a strict
Content-Security-Policy (no inline script, no third-party origin). /docs lists every operation from the
OpenAPI document, rendered on the server (light and readable on a phone, with or without JavaScript); the
interactive Swagger UI (1.7 MB of script) loads only when asked for. The reader's HTML carries the latest
issue's titles rendered on the server, in the negotiated language, so it reads without JavaScript; the module
script then takes over using only the public API.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response
from markupsafe import escape

from api.assets import FAVICON, asset_url
from api.http import cached_endpoint
from api.site import SITE_NAME
from api.store import queries
from schemas.args import ItemArgs
from schemas.compiled import dumper
from schemas.output import IssueItemSchema

bp = Blueprint("pages", __name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bulletin Content API — documentation</title>
<meta name="description" content="Every operation of the bulletin's read-only content API, with its parameters.">
<link rel="icon" href="{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
<script type="module" src="{init}"></script>
</head>
<body>
<header>
<h1>Bulletin Content API</h1>
<p>{description}</p>
<p>The machine-readable description: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI {version}).
The reader built on this API: <a href="/">the bulletin</a>.</p>
<p><button id="load-console" type="button" data-css="{swagger_css}" data-bundle="{swagger_js}"
 data-spec-url="/v1/openapi.json" class="pending">Open the interactive console (Swagger UI, 400 KB)</button></p>
</header>
<main id="operations">
{operations}
</main>
<div id="swagger-ui"></div>
</body>
</html>
"""


def _operations_html(spec: dict) -> str:
    """Every operation of `spec`, grouped by tag: method, path, summary, description and parameters."""
    groups: dict[str, list[str]] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = "".join(
                f"<tr><th scope=row><code>{escape(p['name'])}</code></th><td>{escape(p.get('in', ''))}</td>"
                f"<td>{escape(p.get('description', ''))}</td></tr>"
                for p in op.get("parameters", [])
            )
            table = (
                "<table><thead><tr><th scope=col>Parameter</th><th scope=col>In</th><th scope=col>Meaning</th></tr>"
                f"</thead><tbody>{params}</tbody></table>"
                if params
                else ""
            )
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(
                f'<section class="op" data-method="{method.upper()}" data-path="{escape(path)}">'
                f'<h3><span class="method">{method.upper()}</span> <code>{escape(path)}</code></h3>'
                f"<p>{escape(op.get('summary', ''))}</p>"
                f"<details><summary>Details</summary><p>{escape(op.get('description', ''))}</p>{table}</details>"
                "</section>"
            )
    return "\n".join(f"<h2>{escape(tag)}</h2>\n" + "\n".join(ops) for tag, ops in groups.items())


@bp.get("/docs")
def docs():
    """The operations of /v1/openapi.json as HTML, and Swagger UI (vendored swagger-ui-dist, Apache-2.0) on demand."""
    from api.openapi import openapi_document

    spec = openapi_document()
    html = DOCS_HTML.format(
        icon=asset_url(FAVICON),
        css=asset_url("docs.css"),
        init=asset_url("docs.js"),
        swagger_css=asset_url("vendor/swagger-ui/swagger-ui.css"),
        swagger_js=asset_url("vendor/swagger-ui/swagger-ui-bundle.js"),
        description=escape(spec["info"].get("description", "").split("\n")[0]),
        version=escape(spec.get("openapi", "3")),
        operations=_operations_html(spec),
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


#: The reader's words in each language (the page's script reads them from the page: one source).
UI = {
    "en": {
        "title": "Situation in Belarus — weekly bulletin", "language": "Language", "issues": "Issues",
        "latest": "Latest issue", "earlier": "Earlier issues", "previous": "← Previous issue",
        "next": "Next issue →", "back": "← Back", "more": "More", "none": "No articles.",
        "heat": "Trends by section and week", "other": "Other", "failed": "Could not load",
        "translations": "Also in", "related": "Similar articles", "legend": "Colour: how the situation in the section changed that week",
        "worse": "got worse", "unchanged": "did not change", "better": "got better",
        "scroll": "Swipe the table sideways to see every week →", "unpublished": "No issue has been published yet.",
        "note": "This is the plain view. With JavaScript you also get the trend heat map, earlier issues and the "
        "articles; the data is public at <a href=\"/v1\">/v1</a>, documented at <a href=\"/docs\">/docs</a>.",
    },
    "ru": {
        "title": "Ситуация в Беларуси — еженедельный бюллетень", "language": "Язык", "issues": "Выпуски",
        "latest": "Последний выпуск", "earlier": "Предыдущие выпуски", "previous": "← Предыдущий выпуск",
        "next": "Следующий выпуск →", "back": "← Назад", "more": "Ещё", "none": "Нет статей.",
        "heat": "Тренды по разделам и неделям", "other": "Другое", "failed": "Не удалось загрузить",
        "translations": "Также на", "related": "Похожие статьи", "legend": "Цвет: как изменилась ситуация в разделе за неделю",
        "worse": "ухудшилась", "unchanged": "не изменилась", "better": "улучшилась",
        "scroll": "Прокрутите таблицу вбок, чтобы увидеть все недели →",
        "unpublished": "Ни один выпуск ещё не опубликован.",
        "note": "Это простой вид. С JavaScript доступны тепловая карта трендов, прошлые выпуски и статьи; данные "
        "открыты на <a href=\"/v1\">/v1</a>, документация — <a href=\"/docs\">/docs</a>.",
    },
    "be": {
        "title": "Сітуацыя ў Беларусі — штотыднёвы бюлетэнь", "language": "Мова", "issues": "Выпускі",
        "latest": "Апошні выпуск", "earlier": "Папярэднія выпускі", "previous": "← Папярэдні выпуск",
        "next": "Наступны выпуск →", "back": "← Назад", "more": "Яшчэ", "none": "Няма артыкулаў.",
        "heat": "Трэнды па раздзелах і тыднях", "other": "Іншае", "failed": "Не ўдалося загрузіць",
        "translations": "Таксама на", "related": "Падобныя артыкулы", "legend": "Колер: як змянілася сітуацыя ў раздзеле за тыдзень",
        "worse": "пагоршылася", "unchanged": "не змянілася", "better": "палепшылася",
        "scroll": "Пракруціце табліцу ўбок, каб убачыць усе тыдні →",
        "unpublished": "Ніводзін выпуск яшчэ не апублікаваны.",
        "note": "Гэта просты выгляд. З JavaScript даступныя цеплавая карта трэндаў, папярэднія выпускі і артыкулы; "
        "даныя адкрытыя на <a href=\"/v1\">/v1</a>, дакументацыя — <a href=\"/docs\">/docs</a>.",
    },
}  # fmt: skip
for _lang, _words in UI.items():
    _words["site"] = SITE_NAME[_lang]


def _fallback(issue: dict | None, words: dict) -> str:
    """The latest issue as plain HTML: sections, article titles linking to their JSON, trend labels."""
    if issue is None:
        return f"<p>{escape(words['unpublished'])}</p>"
    parts = [f'<h2 id="issue-title">{escape(issue["title"])}</h2>']
    for group in issue["sections"]:
        name = group["section"]["name"] if group["section"] else words["other"]
        parts.append(f"<section><h3>{escape(name)}</h3><ul>")
        for art in group["articles"]:
            trend = art["trend"]
            badge = (
                f' <span class="trend trend-{escape(trend["slug"])}">{escape(trend["label"])}</span>' if trend else ""
            )
            parts.append(f'<li><a href="{escape(art["url"])}">{escape(art["title"])}</a>{badge}</li>')
        parts.append("</ul></section>")
    return "\n".join(parts)


def _legend(words: dict) -> str:
    marks = {"worse": "▼", "unchanged": "■", "better": "▲"}
    items = "".join(
        f'<li><span class="swatch cell-{d}" aria-hidden="true">{marks[d]}</span> {escape(words[d])}</li>' for d in marks
    )
    return f'<p class="note" id="legend-title">{escape(words["legend"])}</p><ul class="legend" id="legend">{items}</ul>'


PAGE = """<!doctype html>
<html lang="{lang}" data-ui="{ui}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<meta name="description" content="{title}">
<link rel="icon" href="{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
<script type="module" src="{js}"></script>
</head>
<body>
<header>
<h1><a href="#/" id="site-name">{site}</a></h1>
<nav id="controls" class="pending">
<label><span id="lang-label">{language}</span> <select id="lang"><option value="en">English</option><option value="ru">Русский</option><option value="be">Беларуская</option></select></label>
</nav>
</header>
<main id="app">
<div id="fallback">
{fallback}
<p class="note">{note}</p>
</div>
</main>
<aside id="heatmap-panel" hidden><h2 id="heat-title">{heat}</h2>{legend}<p class="note scroll-hint" id="heat-hint" hidden>{scroll}</p>
<div id="heatmap" tabindex="0" role="region" aria-labelledby="heat-title"></div></aside>
<aside id="issues-panel" hidden><h2>{issues}</h2><ol id="issue-list"></ol><button id="more-issues" hidden>{earlier}</button></aside>
</body>
</html>
"""


@bp.get("/")
@cached_endpoint(ItemArgs(), mimetype="text/html")
def index(session, ctx):
    """The reader page, with the latest issue rendered for readers without JavaScript, in the response language."""
    from api.resources.issues import issue_body

    lang = ctx.lang
    words = UI.get(lang, UI["en"])
    issue = queries.latest_issue(session, ctx.now, ctx.args.get("lang"))
    data = dumper(IssueItemSchema)(issue_body(session, ctx, issue), ctx)["data"] if issue is not None else None
    html = PAGE.format(
        lang=escape(lang),
        ui=escape(json.dumps(UI, ensure_ascii=False, separators=(",", ":"))),
        title=escape(words["title"]),
        site=escape(words["site"]),
        language=escape(words["language"]),
        heat=escape(words["heat"]),
        issues=escape(words["issues"]),
        earlier=escape(words["earlier"]),
        scroll=escape(words["scroll"]),
        legend=_legend(words),
        note=words["note"],
        icon=asset_url(FAVICON),
        css=asset_url("reader/reader.css"),
        js=asset_url("reader/reader.js"),
        fallback=_fallback(data, words),
    )
    return html.encode(), {"Content-Security-Policy": CSP}
