"""Server-side HTML: small page shells whose data the page scripts fetch as JSON.

The templates (``templates/*.html``) are trusted files of this package; every value
put into them is HTML-escaped here, and values meant for the scripts travel in
``data-`` attributes (escaped too), never in inline scripts.
"""

from __future__ import annotations

import html
from importlib import resources
from string import Template
from urllib.parse import quote

__all__ = ["Pages", "study_href", "trial_href"]

_SCRIPTS = {
    "studies": ("common.js", "charts.js", "studies.js"),
    "study": ("common.js", "charts.js", "study.js"),
    "trial": ("common.js", "charts.js", "trial.js"),
    "error": (),
}


def study_href(name: str) -> str:
    """Returns the path of a study's page (the name percent-encoded as one segment)."""
    return "/study/" + quote(name, safe="")


def trial_href(name: str, number: int) -> str:
    """Returns the path of a trial's page."""
    return f"{study_href(name)}/trial/{number}"


def _load(name: str) -> Template:
    text = resources.files("optimizer.dashboard").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


class Pages:
    """Renders the four kinds of page; ``storage`` is the URL shown in the footer."""

    def __init__(self, storage: str) -> None:
        self.storage = storage
        self._base = _load("base.html")
        self._parts = {name: _load(f"{name}.html") for name in _SCRIPTS}

    def _render(
        self,
        page: str,
        *,
        title: str,
        crumbs: list[tuple[str, str | None]],
        data: dict[str, str],
        content: str,
    ) -> bytes:
        scripts = "\n".join(
            f'<script src="/static/{_e(script)}" defer></script>' for script in _SCRIPTS[page]
        )
        attrs = "".join(f' data-{_e(key)}="{_e(value)}"' for key, value in data.items())
        links = " / ".join(
            f'<a href="{_e(href)}">{_e(text)}</a>' if href else f"<span>{_e(text)}</span>"
            for text, href in crumbs
        )
        document = self._base.substitute(
            title=_e(title),
            scripts=scripts,
            page=_e(page),
            data=attrs,
            crumbs=links,
            content=content,
            storage=_e(self.storage),
        )
        return document.encode("utf-8")

    def studies(self) -> bytes:
        """Returns the studies list page."""
        return self._render(
            "studies",
            title="Studies · Omega V2",
            crumbs=[("studies", None)],
            data={},
            content=self._parts["studies"].substitute(),
        )

    def study(self, name: str) -> bytes:
        """Returns the page of the study called ``name``."""
        return self._render(
            "study",
            title=f"{name} · Omega V2",
            crumbs=[("studies", "/"), (name, None)],
            data={"study": name},
            content=self._parts["study"].substitute(name=_e(name)),
        )

    def trial(self, name: str, number: int) -> bytes:
        """Returns the page of trial ``number`` of study ``name``."""
        return self._render(
            "trial",
            title=f"trial {number} · {name} · Omega V2",
            crumbs=[("studies", "/"), (name, study_href(name)), (f"trial {number}", None)],
            data={"study": name, "number": str(number)},
            content=self._parts["trial"].substitute(name=_e(name), number=_e(number)),
        )

    def error(self, heading: str, message: str) -> bytes:
        """Returns an error page (no scripts)."""
        return self._render(
            "error",
            title=f"{heading} · Omega V2",
            crumbs=[("studies", "/")],
            data={},
            content=self._parts["error"].substitute(heading=_e(heading), message=_e(message)),
        )
