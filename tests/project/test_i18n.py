"""German is the default language: every string the code marks for translation has a German
translation in locale/de, and the compiled catalogue matches it."""

import ast
import gettext
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def parse_po(path: Path) -> list[dict]:
    """A small .po reader: msgctxt, msgid, msgid_plural, msgstr[n], flags."""
    entries: list[dict] = []
    entry: dict = {"flags": set(), "msgstr": {}}
    key = None

    def flush():
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {"flags": set(), "msgstr": {}}

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            key = None
            continue
        if line.startswith("#,"):
            entry["flags"].update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
            if isinstance(key, tuple):
                entry["msgstr"][key[1]] += value
            else:
                entry[key] += value
            continue
        word, _, rest = line.partition(" ")
        value = ast.literal_eval(rest)
        if word.startswith("msgstr["):
            key = ("msgstr", int(word[7:-1]))
            entry["msgstr"][key[1]] = value
        elif word == "msgstr":
            key = ("msgstr", 0)
            entry["msgstr"][0] = value
        else:
            if word == "msgid" and "msgid" in entry:
                flush()
            key = word
            entry[word] = value
    flush()
    return [e for e in entries if e.get("msgid")]


def test_every_german_entry_is_translated():
    entries = parse_po(PO)
    assert len(entries) > 100
    missing = [e["msgid"] for e in entries if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not missing, f"untranslated: {missing[:20]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:20]}"


def test_compiled_catalogue_matches_the_po_file():
    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for entry in parse_po(PO):
        if "msgid_plural" in entry:
            continue
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        assert catalogue._catalog.get(msgid) == entry["msgstr"][0], f"recompile: {entry['msgid']!r}"


def test_catalogue_holds_every_marked_string(tmp_path):
    """makemessages over a copy of the project finds no string the catalogue lacks."""
    require_service("gettext (xgettext)", bool(shutil.which("xgettext")), "apt-get install gettext")
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", "node_modules", "staticfiles", "static", ".git", "test-artifacts", "*.sqlite3", "bench"
        ),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "de", "--no-obsolete", "--ignore=tests/*"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    fresh = {(e.get("msgctxt"), e["msgid"]) for e in parse_po(copy / "locale/de/LC_MESSAGES/django.po")}
    known = {(e.get("msgctxt"), e["msgid"]) for e in parse_po(PO)}
    new = sorted(m for _, m in fresh - known)
    assert not new, f"{len(new)} strings are not in locale/de yet (run `make messages`): {new[:15]}"
