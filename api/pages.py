"""The two pages for people: interactive docs (/docs, Swagger UI served from api/static) and the reader (/).

Both are plain HTML with external scripts only, under a strict Content-Security-Policy (no inline
script, no third-party origin). The reader's HTML carries the latest issue's titles rendered on the
server, so it reads without JavaScript; the module script then takes over using only the public API.
"""

from __future__ import annotations

from flask import Blueprint, Response, url_for
from markupsafe import escape

from api.http import cached_endpoint
from api.store import queries
from schemas.args import ItemArgs

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
<link rel="stylesheet" href="{css}">
</head>
<body>
<noscript><p>The interactive documentation needs JavaScript; the machine-readable description is at
<a href="/v1/openapi.json">/v1/openapi.json</a>.</p></noscript>
<div id="swagger-ui" data-spec-url="/v1/openapi.json"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""


@bp.get("/docs")
def docs():
    """Swagger UI (vendored swagger-ui-dist, Apache-2.0) rendering /v1/openapi.json."""
    html = DOCS_HTML.format(
        css=url_for("static", filename="vendor/swagger-ui/swagger-ui.css"),
        bundle=url_for("static", filename="vendor/swagger-ui/swagger-ui-bundle.js"),
        init=url_for("static", filename="docs.js"),
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def _fallback(issue: dict | None) -> str:
    """The latest issue as plain HTML: sections, article titles linking to their JSON, trend labels."""
    if issue is None:
        return "<p>No issue has been published yet.</p>"
    parts = [f'<h2 id="issue-title">{escape(issue["title"])}</h2>']
    for group in issue["sections"]:
        name = group["section"]["name"] if group["section"] else "Other"
        parts.append(f"<section><h3>{escape(name)}</h3><ul>")
        for art in group["articles"]:
            trend = art["trend"]
            badge = (
                f' <span class="trend trend-{escape(trend["slug"])}">{escape(trend["label"])}</span>' if trend else ""
            )
            parts.append(f'<li><a href="{escape(art["url"])}">{escape(art["title"])}</a>{badge}</li>')
        parts.append("</ul></section>")
    return "\n".join(parts)


PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Situation in Belarus — weekly bulletin</title>
<link rel="stylesheet" href="{css}">
<script type="module" src="{js}"></script>
</head>
<body>
<header>
<h1><a href="#/">Situation in Belarus</a></h1>
<nav id="controls" hidden>
<label>Language <select id="lang"><option value="en">English</option><option value="ru">Русский</option><option value="be">Беларуская</option></select></label>
</nav>
</header>
<main id="app">
<div id="fallback">
{fallback}
<p class="note">This is the plain view. With JavaScript you also get the trend heat map, earlier issues and the articles;
the data is public at <a href="/v1">/v1</a>, documented at <a href="/docs">/docs</a>.</p>
</div>
</main>
<aside id="heatmap-panel" hidden><h2>Trends by section and week</h2><div id="heatmap"></div></aside>
<aside id="issues-panel" hidden><h2>Issues</h2><ol id="issue-list"></ol><button id="more-issues" hidden>Earlier issues</button></aside>
</body>
</html>
"""


@bp.get("/")
@cached_endpoint(ItemArgs(), mimetype="text/html")
def index(session, args, now, lang):
    """The reader page, with the latest issue rendered for readers without JavaScript."""
    from api.resources.issues import issue_body

    issue = queries.latest_issue(session, now, args.get("lang"))
    data = issue_body(session, issue, now, args.get("lang"))["data"] if issue is not None else None
    html = PAGE.format(
        lang=escape(lang),
        css=url_for("static", filename="reader/reader.css"),
        js=url_for("static", filename="reader/reader.js"),
        fallback=_fallback(data),
    )
    return html.encode(), {"Content-Security-Policy": CSP}
