"""``qsession docs``: the documentation installed with qsession, listed, printed or located.

The pages of the repository's ``docs/`` folder ship inside the package (``qsession.docs``,
with their pictures and the OpenAPI document), so an install from a wheel reads the same
pages a clone does. Messages, help texts and docstrings cite them as commands a user can
run — ``qsession docs semantics "Durability"`` — never as paths of the repository.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_FILES = ("Names such as tests/…, bench/… or Makefile in the pages are files of "
                    "qsession's source repository (its sdist holds them); "
                    "qsession examples --copy DIR copies out the example programs.")
"""Said under the listing: the pages cite the repository's tests as evidence."""


class DocsMissing(RuntimeError):
    """The installed package holds no documentation (a broken or partial install)."""


class UnknownPage(LookupError):
    """No page or section by the name asked for; the message lists the names there are."""


@dataclass(frozen=True)
class Page:
    """One page of the documentation: its topic name (the file's stem), file and title."""

    topic: str
    path: Path
    title: str

    def text(self) -> str:
        """The page's Markdown source."""
        return self.path.read_text(encoding="utf-8")

    def headings(self) -> list[tuple[int, str, int]]:
        """Each heading outside code blocks: its level, its text and its line index."""
        found = []
        fence: str | None = None
        for index, line in enumerate(self.text().splitlines()):
            opening = re.match(r"\s*(`{3,}|~{3,})", line)
            if opening and (fence is None or opening.group(1).startswith(fence)):
                fence = opening.group(1)[:3] if fence is None else None
                continue
            heading = re.match(r"(#{1,6})\s+(.+?)\s*#*\s*$", line)
            if fence is None and heading:
                found.append((len(heading.group(1)), heading.group(2), index))
        return found

    def section(self, name: str) -> str:
        """The section headed ``name`` (case and Markdown markup ignored), down to the next
        heading of the same or a higher level.

        A name that is no heading but part of exactly one is taken as that one; otherwise
        ``UnknownPage`` lists the headings.
        """
        headings = self.headings()
        wanted = plain(name)
        chosen = [h for h in headings if plain(h[1]) == wanted] or [
            h for h in headings if wanted and wanted in plain(h[1])]
        if len(chosen) != 1:
            listed = "; ".join(f'"{plain_text(h[1])}"' for h in headings if h[0] > 1)
            what = "more than one section matches" if chosen else "no section is headed"
            raise UnknownPage(f"{what} {name!r} in {self.topic}; its sections: {listed}")
        level, _, start = chosen[0]
        end = next((i for lvl, _, i in headings if i > start and lvl <= level), None)
        lines = self.text().splitlines()[start:end]
        return "\n".join(lines).rstrip() + "\n"


def plain_text(heading: str) -> str:
    """A heading without Markdown markup (backticks, emphasis, link brackets)."""
    return re.sub(r"[`*_\[\]]", "", heading).strip()


def plain(heading: str) -> str:
    """A heading without markup, case-folded: what section names are compared by."""
    return " ".join(plain_text(heading).casefold().split())


def docs_root() -> Path:
    """The folder the documentation was installed in (inside the package, or a clone's docs/)."""
    spec = importlib.util.find_spec("qsession.docs")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if any(Path(location).glob("*.md")):
            return Path(location)
    raise DocsMissing("qsession's documentation is not installed with this copy of qsession; "
                      "reinstall it: pip install --force-reinstall qsession")


def pages() -> list[Page]:
    """Every page, by topic name."""
    found = []
    for path in sorted(docs_root().glob("*.md")):
        title = next((line[2:].strip() for line in path.read_text(encoding="utf-8").splitlines()
                      if line.startswith("# ")), path.stem)
        found.append(Page(path.stem, path, plain_text(title)))
    return found


def page(topic: str) -> Page:
    """The page named ``topic`` (``semantics``; a file name of the page is taken too)."""
    name = topic.strip().removeprefix("docs/").removesuffix(".md").casefold()
    everything = pages()
    for candidate in everything:
        if candidate.topic == name:
            return candidate
    topics = [p.topic for p in everything]
    close = difflib.get_close_matches(name, topics, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UnknownPage(f"no page named {topic!r}{hint}; the pages: {', '.join(topics)} "
                      "(`qsession docs` lists them with their titles)")


def listing() -> list[tuple[str, str]]:
    """Each page's topic name and title."""
    return [(p.topic, p.title) for p in pages()]


def listing_lines(width: int = 80) -> list[str]:
    """What ``qsession docs`` prints: each page with its title wrapped to ``width``, the
    commands that print one (each whole, on a line of its own), and where the repository's
    files the pages name are."""
    listed = listing()
    name_width = max(len(name) for name, _ in listed)
    lines = [f"qsession's documentation ({len(listed)} pages, installed with it):"]
    for name, title in listed:
        lines += textwrap.wrap(f"{name:<{name_width}}  {title}", width,
                               initial_indent="  ", subsequent_indent=" " * (name_width + 4))
    lines += ["Print a page:  qsession docs semantics",
              'One section:   qsession docs semantics "Durability"',
              "Its file:      qsession docs semantics --path",
              *textwrap.wrap(REPOSITORY_FILES, width)]
    return lines
