"""A small self-contained HTML report: sections of animations, pictures and tables."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.5; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; max-width: 420px; }
img, video { image-rendering: pixelated; border: 1px solid #ddd; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
th { background: #f5f5f5; } .ok { color: #1a7f37; } .bad { color: #b42318; }
"""


@dataclass
class Section:
    title: str
    text: str = ""
    media: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    table: list[tuple[str, ...]] = field(default_factory=list)  # first row is the header
    links: list[tuple[str, str]] = field(default_factory=list)  # (relative address, label)


def _media(name: str, caption: str) -> str:
    src = html.escape(name)
    if name.endswith(".mp4"):
        tag = f'<video src="{src}" autoplay loop muted playsinline controls></video>'
    else:
        tag = f'<img src="{src}" alt="{html.escape(caption)}">'
    return f"<figure>{tag}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _table(rows: list[tuple[str, ...]]) -> str:
    head, *body = rows
    th = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><tr>{th}</tr>{trs}</table>"


def write_report(path: str | Path, title: str, intro: str, sections: list[Section]) -> Path:
    """Write ``path`` (index.html) referring to media files beside it."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2>")
        if s.text:
            parts.append(f"<p>{html.escape(s.text)}</p>")
        parts.extend(_media(n, c) for n, c in s.media)
        if s.table:
            parts.append(_table(s.table))
        parts.extend(f'<p><a href="{html.escape(href)}">{html.escape(label)}</a></p>'
                     for href, label in s.links)
        parts.append("</section>")
    parts.append("</body></html>\n")
    path = Path(path)
    path.write_text("".join(parts))
    return path
