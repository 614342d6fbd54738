"""Unicode look-alikes Windows' best-fit conversion turns into cmd.exe's special characters are
refused in the cluster.exe dialect (table clusterlib.wire.cmdline.BEST_FIT, from Microsoft's
published WindowsBestFit tables)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from clusterlib.errors import UnsafeName
from clusterlib.wire import cmdline as cl
from clusterlib.wire.cmdline import _REFUSED

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bestfit1252.txt"
HEX = re.compile(r"0x[0-9a-fA-F]+")


def wctable(path: Path) -> dict[int, int]:
    """The WCTABLE section (Unicode -> byte) of a WindowsBestFit file."""
    section = ""
    table: dict[int, int] = {}
    for raw in path.read_bytes().decode("latin-1").splitlines():
        fields = raw.split(";")[0].split()
        if not fields:
            continue
        if fields[0].isalpha():
            section = fields[0]
            continue
        if section == "WCTABLE" and len(fields) >= 2 and all(HEX.fullmatch(f) for f in fields[:2]):
            table[int(fields[0], 16)] = int(fields[1], 16)
    return table


DANGEROUS = set(_REFUSED) | {"\n", "\r", "\0"}


def test_every_dangerous_best_fit_of_code_page_1252_is_in_the_table() -> None:
    table = wctable(FIXTURE)
    assert len(table) > 500  # the fixture really is the full table
    dangerous = {chr(u): chr(b) for u, b in table.items() if u >= 0x80 and b < 0x80
                 and chr(b) in DANGEROUS}
    # The famous ones are there (fullwidth quote, percent, backslash ...).
    assert dangerous["\uff02"] == '"' and dangerous["\uff05"] == "%"
    assert dangerous["\uff06"] == "&" and dangerous["\uff5c"] == "|"
    assert table[0xFF3C] == ord("\\")
    for ch, target in dangerous.items():
        assert cl.BEST_FIT.get(ch) == target, f"U+{ord(ch):04X} -> {target!r} missing"


@pytest.mark.parametrize("ch", sorted(c for c, t in cl.BEST_FIT.items() if t in DANGEROUS))
def test_every_dangerous_look_alike_is_refused_by_name(ch: str) -> None:
    name = f"Share {ch} 1"
    with pytest.raises(UnsafeName) as err:
        cl.check_name(name, "group name")
    message = str(err.value)
    assert repr(name) in message and "best-fit" in message
    assert repr(cl.BEST_FIT[ch]) in message  # what it would become
    with pytest.raises(UnsafeName):
        cl.build_line("cluster.exe", "group", cl.GroupName(name), "/status")


def test_the_table_holds_only_non_ascii_characters_mapping_to_ascii() -> None:
    assert cl.BEST_FIT
    for ch, target in cl.BEST_FIT.items():
        assert ord(ch) >= 0x80 and ord(target) < 0x80
        assert target in _REFUSED or target == "\\" or unicodedata.category(target) == "Cc"


def test_harmless_best_fits_and_ordinary_letters_pass() -> None:
    # Section and pilcrow signs map to harmless control bytes in code page 874 only; a yen sign
    # becomes '\' in 932, which names may contain. Accented and CJK letters have no best fit.
    for name in ("Akte \u00a7 12", "Absatz \u00b6", "Preis \u00a5", "Gr\u00fc\u00dfe", "\u4e2d\u6587",
                 "Caf\u00e9 SQL"):
        assert cl.check_name(name) == name


def test_wmic_refuses_look_alikes_and_a_closing_backslash() -> None:
    with pytest.raises(UnsafeName, match="best-fit"):
        cl.wmic_process_create("NODE1", "setup.exe /x:\uff02a")
    for line in ("D:\\setup\\", "D:\\setup\uff3c", "D:\\setup\u00a5"):
        with pytest.raises(UnsafeName, match="ends with"):
            cl.wmic_process_create("NODE1", line)
    assert cl.wmic_process_create("NODE1", "D:\\setup\\ ").line.endswith('\\ "')
