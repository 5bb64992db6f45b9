"""The strict .env reader."""

from __future__ import annotations

import pytest

from orion_cli.core.errors import SecretsError
from orion_cli.secrets.dotenv import Unkept, parse_dotenv, scan_dotenv


def test_forms() -> None:
    text = (
        "# comment\n\n"
        "PLAIN=value\n"
        "export EXPORTED = spaced value  # trailing comment\n"
        "HASH=abc#def\n"
        "SINGLE='lit\\eral # kept'\n"
        'DOUBLE="a\\nb \\"q\\""\n'
        'PEM="-----BEGIN KEY-----\nAAAA\n-----END KEY-----"\n'
        "EMPTY=\n"
        "PLAIN=second wins\r\n"
    )
    assert parse_dotenv(text) == {
        "PLAIN": "second wins",
        "EXPORTED": "spaced value",
        "HASH": "abc#def",
        "SINGLE": "lit\\eral # kept",
        "DOUBLE": 'a\nb "q"',
        "PEM": "-----BEGIN KEY-----\nAAAA\n-----END KEY-----",
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    ("text", "line"),
    [("GOOD=1\nnot an assignment\n", 2), ('A="unterminated\nB=2\n', 1), ('A="x" junk\n', 1),
     ('A="bad \\q escape"\n', 1), ("=novalue\n", 1)],
)
def test_errors_name_the_line_not_the_content(text: str, line: int) -> None:
    with pytest.raises(SecretsError) as err:
        parse_dotenv(text, source="my.env")
    assert f"my.env, line {line}" in str(err.value)
    assert "unterminated\nB" not in str(err.value) and "junk" not in str(err.value)


def test_scan_lists_the_values_the_parse_does_not_keep() -> None:
    """What `--shred-source` would destroy beyond each name's last value: an assignment replaced by
    another value or emptied, a commented-out assignment (with `export`, quoted); not prose comments,
    a value repeated alike, an empty one, a commented-out copy of the kept value, nor a `#` line inside
    a quoted value. Line numbers only."""
    text = (
        "# Polymarket: see https://docs.example/?a=b\n"  # 1 prose
        "# e.g. PK=... (an older name)\n"  # 2 prose
        "A=first\n"  # 3 replaced on 6
        "B=kept\n"  # 4
        "B=kept\n"  # 5 the same value
        "A=second\n"  # 6
        "C=gone\n"  # 7 emptied on 8
        "C=\n"  # 8
        "##  export OLD='0xold' # why\n"  # 9 commented out
        "#EMPTY=\n"  # 10
        "# B=kept\n"  # 11 the value kept
        'PEM="x\n# INSIDE=1\n"\n'  # 12-14
        "D=\n"  # 15
        "D=set\n"  # 16
    )
    scan = scan_dotenv(text)
    assert scan.values == parse_dotenv(text)
    assert scan.values["A"] == "second" and scan.values["C"] == ""
    assert scan.unkept == [Unkept("A", 3, 6), Unkept("C", 7, 8, emptied=True), Unkept("OLD", 9, None)]
    assert [u.describe() for u in scan.unkept] == [
        "A on line 3 (replaced on line 6)", "C on line 7 (emptied on line 8)", "OLD on line 9 (commented out)"]
    assert "first" not in repr(scan) and "0xold" not in repr(scan)


@pytest.mark.parametrize("text", [
    "A=1\nac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n",  # a key pasted on its own line
    "export ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n",
    "PK ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80=\n",  # a space where "=" belongs
])
def test_a_line_that_is_no_assignment_is_refused_without_quoting_it(text: str) -> None:
    with pytest.raises(SecretsError) as err:
        parse_dotenv(text, source="my.env")
    said = f"{err.value.message} {err.value.hint or ''}"
    assert "my.env, line" in said and "expected NAME=value" in said
    assert "ac0974bec39a" not in said and "f2ff80" not in said


_NEW, _OLD = "ab" * 32, "cd" * 32


@pytest.mark.parametrize(("text", "line"), [
    (f"# old wallet {_OLD}\n", 1),
    (f"# old wallet 0X{_OLD}\n", 1),
    ("# -----BEGIN PRIVATE KEY-----\n# MIIBVQ+GkqhkiG9w0/Gp3\n# -----END PRIVATE KEY-----\n", 1),
    (f"PK=0x{_NEW}  # old 0x{_OLD}\n", 1),
    (f'PK="0x{_NEW}" # old {_OLD}\n', 1),
    (f"PK=0x{_NEW}\n# PK=0x{_NEW}  # was 0x{_OLD}\n", 2),
], ids=["hex", "0X", "pem", "after-a-value", "after-a-quoted-value", "after-a-commented-copy"])
def test_key_material_in_a_comment_is_a_value_the_import_does_not_keep(text: str, line: int) -> None:
    """Found by black-box and diff reviews: a key kept in a comment (a PEM block whose lines hold + or /, bare
    hex, after a value, after a commented-out copy of the imported value) was no value the import drops, so
    `--shred-source` destroyed its only copy. Each is one, by its line, its name never shown."""
    unkept = scan_dotenv(text).unkept
    assert [(u.line, u.hidden, u.replaced_on) for u in unkept] == [(line, True, None)], unkept
    assert _OLD not in unkept[0].describe() and "MIIBVQ" not in unkept[0].describe()


@pytest.mark.parametrize("text", [f"PK=0x{_NEW}\n# PK=0x{_NEW}\n", "# see https://docs.example/?a=b  # e.g. PK=...\n",
                                  f"PK=0x{_NEW}  # the key above, copied from the wallet app\n",
                                  f"PK=0x{_NEW}  # same 0X{_NEW.upper()}\n", f"# note: {_NEW}\nPK={_NEW}\n"])
def test_a_comment_without_key_material_is_nothing_the_import_drops(text: str) -> None:
    """A comment holding a copy of a value the import keeps loses nothing (found in review: it refused the shred)."""
    assert scan_dotenv(text).unkept == []


def test_a_commented_out_assignment_and_its_own_comment_are_one_value_not_kept() -> None:
    """Found in review: `# PK=0x<old>  # 0x<old>` was listed twice, as PK's and as a comment's."""
    assert [(u.line, u.name) for u in scan_dotenv(f"# PK=0x{_OLD}  # 0x{_OLD}\n").unkept] == [(1, "PK")]
