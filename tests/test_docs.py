"""The documentation holds together: every reference to a document, or to a section of one,
points at a file and a heading that exist, and README.md stays short.

References are looked for in every file git tracks, or would track (new files not ignored),
outside .venv: code, tests, scripts, manifests, the Makefile and the docs themselves. A
reference is a document's path, README.md or docs/NAME.md, optionally followed by a comma (or
a possessive 's) and a heading in double or single quotes; bare README counts only with a
heading. A heading is a Markdown heading of level 1 to 4 outside code blocks, compared without
regard to case. Markdown links between documents, with their #anchors, are checked as well.
"""

import re
import subprocess
from pathlib import Path

THIS_FILE = Path(__file__).resolve()
ROOT = THIS_FILE.parent.parent
README_MAX_LINES = 250

REFERENCE = re.compile(
    r"(?P<path>\bREADME(?:\.md)?|\bdocs/[\w.-]+\.md)\b"
    r"(?:"  # then, optionally, a heading:
    r"(?:,[ \t]*\n?[ \t#]*|'s\s+)"  # after a comma (a comment may go on on the next line) or 's
    r"(?P<quote>[\"'])(?P<heading>(?:(?!(?P=quote)).){1,80}?)(?P=quote)"
    r")?",
    re.S,
)
LINK = re.compile(r"\[[^\]\n]*\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
HEADING = re.compile(r"^#{1,4}[ \t]+(.+?)[ \t#]*$", re.M)


def scanned_files(root: Path) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    files = []
    for name in listed:
        path = root / name
        if name.startswith(".venv/") or not path.is_file() or path == THIS_FILE:
            continue  # deleted but still in the index; this file's examples are not references
        files.append(path)
    return files


def headings(markdown: str) -> list[str]:
    """The headings of a Markdown text, code blocks left out, as written."""
    return [match.group(1).strip() for match in HEADING.finditer(FENCE.sub("", markdown))]


def slug(heading: str) -> str:
    """The anchor GitHub makes for a heading: lower case, punctuation dropped, spaces to `-`."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def _document(root: Path, path: str) -> Path:
    return root / ("README.md" if path == "README" else path)


def broken_references(root: Path, files: list[Path]) -> list[str]:
    """Every reference in `files` whose document or heading does not exist, as
    `file:line: reference: what is wrong`."""
    problems, seen = [], set()
    for file in files:
        try:
            text = file.read_text()
        except UnicodeDecodeError:
            continue  # not text
        for match in REFERENCE.finditer(text):
            path, heading = match.group("path"), match.group("heading")
            if path == "README" and heading is None:
                continue  # the word, not a reference
            where = f"{file.relative_to(root)}:{text.count(chr(10), 0, match.start()) + 1}"
            quoted = " ".join(match.group(0).split())
            if (where, quoted) in seen:
                continue  # the same reference twice on a line, as in a link to a document
            seen.add((where, quoted))
            document = _document(root, path)
            if not document.is_file():
                problems.append(f"{where}: {quoted}: {document.relative_to(root)} does not exist")
                continue
            if heading is None:
                continue
            wanted = " ".join(re.sub(r"\n[ \t#]*", " ", heading).split()).lower()
            if wanted not in {h.lower() for h in headings(document.read_text())}:
                problems.append(
                    f"{where}: {quoted}: {document.relative_to(root)} has no heading {wanted!r}"
                )
    return problems


def broken_links(root: Path, files: list[Path]) -> list[str]:
    """Markdown links from one document to another (or to a heading of its own) that lead
    nowhere; links to other sites are not followed."""
    problems = []
    for file in files:
        if file.suffix != ".md":
            continue
        text = FENCE.sub(lambda block: "\n" * block.group(0).count("\n"), file.read_text())
        for match in LINK.finditer(text):
            target = match.group("target")
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            document = (file.parent / path).resolve() if path else file
            where = f"{file.relative_to(root)}:{text.count(chr(10), 0, match.start()) + 1}"
            if not document.exists():
                problems.append(f"{where}: ({target}): {path} does not exist")
            elif (
                anchor
                and document.suffix == ".md"
                and anchor not in {slug(h) for h in headings(document.read_text())}
            ):
                problems.append(f"{where}: ({target}): no heading makes #{anchor}")
    return problems


def test_readme_stays_short():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines < README_MAX_LINES, (
        f"README.md has {lines} lines; keep it under {README_MAX_LINES} and move details to docs/"
    )


def test_every_reference_to_a_document_exists():
    problems = broken_references(ROOT, scanned_files(ROOT))
    assert not problems, "references to documents or sections that do not exist:\n" + "\n".join(
        problems
    )


def test_every_link_between_documents_leads_somewhere():
    problems = broken_links(ROOT, scanned_files(ROOT))
    assert not problems, "Markdown links that lead nowhere:\n" + "\n".join(problems)


def test_the_checks_find_what_is_broken(tmp_path):
    """A control: references and links that are wrong are found, and right ones are not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Title\n\n## Run it\n\n```bash\n# Not a heading\n```\n")
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n### 5. Rate limits\n")
    code = tmp_path / "code.py"
    code.write_text(
        '# README.md, \'Run it\'; README, "run IT"; docs/guide.md; docs/guide.md, "Guide"\n'
        '# (docs/guide.md,\n#  "5. Rate\n#  limits")\n'
        '# README, "Not a heading"\n'
        '# README.md\'s "Deployment" section\n'
        "# docs/missing.md, 'Anything'\n"
        "# see README for more\n"
    )
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](guide.md#5-rate-limits) [ok](../README.md#run-it) [ok](https://example.com/x)\n"
        "[bad](guide.md#rate-limits) [bad](nowhere.md)\n"
    )
    files = [code, page, tmp_path / "README.md", tmp_path / "docs" / "guide.md"]

    problems = broken_references(tmp_path, files)
    assert [problem.split(": ", 1)[0] for problem in problems] == [
        "code.py:5",
        "code.py:6",
        "code.py:7",
    ], problems
    assert "has no heading 'not a heading'" in problems[0]
    assert "has no heading 'deployment'" in problems[1]
    assert "docs/missing.md does not exist" in problems[2]

    links = broken_links(tmp_path, files)
    assert [problem.split(": ", 1)[1] for problem in links] == [
        "(guide.md#rate-limits): no heading makes #rate-limits",
        "(nowhere.md): nowhere.md does not exist",
    ], links
    assert slug("5. Authentication problems") == "5-authentication-problems"
    assert slug("`GET cart/`, each size") == "get-cart-each-size"
