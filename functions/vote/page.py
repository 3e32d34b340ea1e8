"""The vote page and the error page, as small string templates.

Every value is passed through `html.escape` before substitution, so an option named
`<script>` shows as text. The results line keeps the original's exact markup,
`<div id="results"> {text} </div>`, on its own line: the tutorial greps for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from string import Template

UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Details:
    """Who served the page, for the SHOWDETAILS footer."""

    host: str
    app_version: str
    analytics_version: str = UNAVAILABLE
    store: str = UNAVAILABLE
    store_version: str = UNAVAILABLE


@dataclass(frozen=True, slots=True)
class PageView:
    """Everything the vote page shows."""

    title: str
    options: tuple[str, str]
    results: str
    vote_id: str
    app_version: str
    details: Details | None = None
    # None: the toggle is hidden (FEATUREFLAG=false); else whether the cookie is set.
    featureflag: bool | None = None


_STYLE = """
:root { --accent: #0078d4; --accent-dark: #005a9e; }
body.v2 { --accent: #8a3ffc; --accent-dark: #6929c4; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f2f1; color: #323130;
  font-family: "Segoe UI", system-ui, -apple-system, sans-serif; }
#container { max-width: 34rem; margin: 3rem auto; padding: 2rem; background: #fff;
  border-top: 6px solid var(--accent); border-radius: 6px; text-align: center;
  box-shadow: 0 2px 8px rgba(0, 0, 0, .12); }
#logo { margin: 0 0 1.5rem; font-size: 1.8rem; font-weight: 600; }
#banner { display: inline-block; margin-bottom: .75rem; padding: .15rem .6rem;
  border-radius: 1rem; background: var(--accent); color: #fff; font-size: .8rem;
  letter-spacing: .05em; }
#form { display: flex; flex-direction: column; gap: .75rem; }
.button { padding: .8rem; border: 0; border-radius: 4px; font-size: 1.1rem;
  color: #fff; background: var(--accent); cursor: pointer; }
.button:hover, .button:focus { background: var(--accent-dark); }
.button.reset { background: #605e5c; }
#results { margin: 1.75rem 0 0; font-size: 1.2rem; font-weight: 600; }
#details { margin-top: 2rem; font-size: .85rem; color: #605e5c; line-height: 1.6; }
#details span { font-family: ui-monospace, monospace; }
#featureflag form { display: inline; }
.link { padding: 0; border: 0; background: none; color: var(--accent); font: inherit;
  text-decoration: underline; cursor: pointer; }
#details .active { font-family: inherit; font-weight: 600; }
"""

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>$title</title>
  <style>$style</style>
</head>
<body class="$body_class">
  <main id="container">
$banner    <h1 id="logo">$title</h1>
    <form id="form" method="post" action="/">
      <input type="hidden" name="vote_id" value="$vote_id">
      <button class="button" id="vote1" name="vote" value="$option1">$option1</button>
      <button class="button" id="vote2" name="vote" value="$option2">$option2</button>
      <button class="button reset" id="reset" name="vote" value="reset">Reset</button>
    </form>
    <div id="results"> $results </div>
$footer  </main>
</body>
</html>
"""
)

_DETAILS = Template(
    """      <div>host: <span id="host">$host</span></div>
      <div>app: <span id="app-version">$app_version</span>
        · analytics: <span id="analytics-version">$analytics_version</span>
        · store: <span id="store">$store</span> <span id="store-version">$store_version</span>
      </div>
"""
)

_ERROR = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>$status $reason</title>
  <style>$style</style>
</head>
<body>
  <main id="container">
    <h1 id="logo">$reason</h1>
    <p id="error">$message</p>
$retry    <p><a href="/">Back to the vote</a></p>
  </main>
</body>
</html>
"""
)


def _compile(template: Template, **fixed: str) -> list[str]:
    """`template` split at its placeholders, with the `fixed` ones filled in once.

    Even indexes hold literal text, odd ones placeholder names: rendering is a join,
    not a regex pass over the 4 KB page (style sheet included) on every request.
    """
    pieces = re.split(r"\$(\w+)", template.template)
    parts = [pieces[0]]
    for name, literal in zip(pieces[1::2], pieces[2::2], strict=True):
        if name in fixed:
            parts[-1] += fixed[name] + literal
        else:
            parts += [name, literal]
    return parts


def _fill(parts: list[str], values: dict[str, str]) -> str:
    return "".join(values[part] if index % 2 else part for index, part in enumerate(parts))


_PAGE_PARTS = _compile(_PAGE, style=_STYLE)


def render_page(view: PageView) -> str:
    """The vote page for `view`, every value escaped."""
    major = view.app_version.split(".")[0]
    banner = ""
    if major != "1":
        banner = f'    <div id="banner">v{escape(view.app_version)}</div>\n'
    return _fill(
        _PAGE_PARTS,
        dict(
            body_class=f"v{escape(major)}",
            banner=banner,
            title=escape(view.title),
            vote_id=escape(view.vote_id),
            option1=escape(view.options[0]),
            option2=escape(view.options[1]),
            results=escape(view.results),
            footer=_footer(view),
        ),
    )


def _footer(view: PageView) -> str:
    """The details and the feature-flag toggle, or nothing when both are off."""
    parts = []
    if view.details is not None:
        d = view.details
        parts.append(
            _DETAILS.substitute(
                host=escape(d.host),
                app_version=escape(d.app_version),
                analytics_version=escape(d.analytics_version),
                store=escape(d.store),
                store_version=escape(d.store_version),
            )
        )
    if view.featureflag is not None:
        parts.append(
            f'      <div id="featureflag">feature flag: {_toggle(view.featureflag)}</div>\n'
        )
    if not parts:
        return ""
    return '    <footer id="details">\n' + "".join(parts) + "    </footer>\n"


def _toggle(on: bool) -> str:
    """`set | clear`: the active state as plain text, the other as a button to switch."""

    def state(name: str, active: bool) -> str:
        if active:
            return f'<span class="active" id="featureflag-{name}">{name}</span>'
        return (
            f'<form method="post" action="/featureflag/{name}">'
            f'<button class="link" id="featureflag-{name}">{name}</button></form>'
        )

    return f"{state('set', on)} | {state('clear', not on)}"


def render_error(
    status: int, reason: str, message: str, retry: tuple[str, str] | None = None
) -> str:
    """A plain error page: what went wrong in words, never a trace.

    With `retry` = (vote, vote_id) it offers a button that re-sends the same vote with
    the same idempotency key, so retrying can never count a vote twice.
    """
    retry_form = ""
    if retry is not None:
        choice, vote_id = (escape(value) for value in retry)
        retry_form = (
            '    <form id="retry" method="post" action="/">\n'
            f'      <input type="hidden" name="vote_id" value="{vote_id}">\n'
            f'      <button class="button" name="vote" value="{choice}">Try again</button>\n'
            "    </form>\n"
        )
    return _ERROR.substitute(
        style=_STYLE,
        status=status,
        reason=escape(reason),
        message=escape(message),
        retry=retry_form,
    )
