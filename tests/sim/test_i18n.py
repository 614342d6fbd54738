"""Errors classified whatever the cluster's UI language, and the simulator speaking pt-BR, de-DE and zh-TW."""

from __future__ import annotations

import contextlib

import pytest

import clusterlib
from clusterlib import errors, win32
from clusterlib.dialects.base import record_code
from clusterlib.sim import GroupLocked, SimCluster
from clusterlib.sim import locale as sim_locale
from clusterlib.wire import CmdLine, ErrorRecord
from clusterlib.wire import cluster_text as cx

OTHER = ("pt-BR", "de-DE", "zh-TW")
TRANSIENT = sorted(win32.TRANSIENT_CODES)


# ---- the catalog and the text fallback ---------------------------------------------------------


@pytest.mark.parametrize("language", OTHER)
def test_every_localized_message_reads_back_as_its_code(language: str) -> None:
    table = win32.LOCALIZED_MESSAGES[language]
    assert set(table) <= set(win32.WIN32_ERRORS)  # no text for a code the library does not know
    for code, text in table.items():
        assert win32.code_from_text(text) == code, (language, code, text)
        # As PowerShell wraps it: the operation first, the system message after a line break.
        wrapped = f"Move-ClusterGroup : 'SQL Group 1'\r\n{text}\r\n    + CategoryInfo : NotSpecified"
        assert win32.code_from_text(wrapped) == code


def test_english_texts_still_read_back() -> None:
    for code, (_sym, text) in win32.WIN32_ERRORS.items():
        if len(text) > 14:
            assert win32.code_from_text(text) == code, (code, text)


def test_localized_texts_differ_between_codes() -> None:
    # One text must never name two codes (the longest match would then be a guess).
    for language, table in win32.LOCALIZED_MESSAGES.items():
        assert len(set(table.values())) == len(table), language


def test_zh_tw_survives_full_width_punctuation_and_line_breaks() -> None:
    text = win32.LOCALIZED_MESSAGES["zh-TW"][5908]
    broken = text.replace("，", "，\r\n   ")
    assert win32.code_from_text(broken) == 5908
    assert win32._flatten(text)  # CJK letters are kept, not stripped as punctuation


def test_unknown_text_has_no_code() -> None:
    for text in ("Ocorreu um erro inesperado.", "Unbekannter Fehler", "發生未預期的錯誤", ""):
        assert win32.code_from_text(text) is None


@pytest.mark.parametrize(("text", "code"), [
    ("Systemfehler 5908 aufgetreten (0x00001714).", 5908),
    ("發生系統錯誤 5960 (0x00001748).", 5960),
    ("algo falhou (0x00001748).", 5960),  # the insert alone, no words at all
    ("Exception from HRESULT: 0x80071714", 5908),
])
def test_codes_in_the_text_are_read_in_any_language(text: str, code: int) -> None:
    assert win32.code_from_text(text) == code


def test_code_of_prefers_what_does_not_change_with_the_language() -> None:
    locked = win32.LOCALIZED_MESSAGES["de-DE"][5960]
    # The record's own code wins over everything.
    assert win32.code_of(5908, "Move-ClusterGroup,X", "NotSpecified", locked) == 5908
    # Then the FullyQualifiedErrorId.
    assert win32.code_of(None, "ClusterNodeNotFound,Microsoft.FailoverClusters", "", locked) == 5042
    assert win32.code_of(None, "Get-ClusterGroup,Microsoft.FailoverClusters.PowerShell."
                         "GetClusterGroupCommand", "ObjectNotFound", "???") == 5013
    # An action's ObjectNotFound does not say which of its objects was missing.
    assert win32.code_of(None, "Move-ClusterGroup,X", "ObjectNotFound", "???") is None
    # An id that names no code leaves it to the text.
    assert win32.code_of(None, "Move-ClusterGroup,X", "NotSpecified", locked) == 5960
    assert win32.code_of(None, "Move-ClusterGroup,X", "NotSpecified", "???") is None


@pytest.mark.parametrize("language", OTHER)
@pytest.mark.parametrize("code", TRANSIENT)
def test_busy_errors_stay_transient_in_every_language(language: str, code: int) -> None:
    text = win32.LOCALIZED_MESSAGES[language].get(code)
    if text is None:
        pytest.skip(f"no {language} text for {code}")
    err = errors.refused_from(f"'File Group 3'\n{text}", error_id="Move-ClusterGroup,X")
    assert isinstance(err, clusterlib.TransientClusterError)
    assert err.win32_code == code


def test_record_code_reads_a_text_only_record() -> None:
    rec = ErrorRecord(message=win32.LOCALIZED_MESSAGES["pt-BR"][5013], category="NotSpecified",
                      error_id="Get-ClusterGroup,Microsoft.FailoverClusters.PowerShell.X")
    assert record_code(rec) == 5013


# ---- the simulator's languages -----------------------------------------------------------------


def test_language_is_checked_and_named() -> None:
    with pytest.raises(ValueError, match=r"'fr-FR'.*en-US, pt-BR, de-DE, zh-TW"):
        SimCluster({"N1": []}, language="fr-FR")
    assert SimCluster({"N1": []}, language="PT-br").language == "pt-BR"


def test_a_test_run_can_set_the_default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    # What tests/conftest.py does for --sim-language / CLUSTERLIB_TEST_LANGUAGE.
    monkeypatch.setattr(sim_locale, "DEFAULT_LANGUAGE", "de-DE")
    monkeypatch.setattr(sim_locale, "DEFAULT_ERROR_CODES", False)
    sim = SimCluster({"N1": [], "N2": []}, os="2016")
    assert (sim.language, sim.error_codes) == ("de-DE", False)
    assert "Clustergruppe" in sim.groups and "Cluster Group" not in sim.groups
    # A test that names its language keeps it.
    assert SimCluster({"N1": []}, language="en-US", error_codes=True).error_codes


def test_localized_message_lookup() -> None:
    assert win32.localized_message(5908, "en-us") == win32.message(5908)
    assert win32.localized_message(5908, "PT-BR") == win32.LOCALIZED_MESSAGES["pt-BR"][5908]
    assert win32.localized_message(5908, "fr-FR") is None
    assert sim_locale.message(4242, "de-DE") == "Win32 error 4242"


@pytest.mark.parametrize("language", sim_locale.LANGUAGES)
def test_core_and_storage_groups_are_named_in_the_language(language: str) -> None:
    sim = SimCluster({"N1": ["app"], "N2": []}, os="2016", language=language,
                     available_storage=True)
    snap = sim.snapshot()
    core = snap.core_group
    assert core is not None and core.name == sim_locale.CORE_GROUP[language]
    storage = snap.group(sim_locale.AVAILABLE_STORAGE[language])
    assert storage.group_type is clusterlib.GroupType.AvailableStorage and not storage.is_core
    # No storage group on Windows 2000/2003 (it came with Windows Server 2008).
    classic = SimCluster.classic(language=language, available_storage=True)
    assert sim_locale.AVAILABLE_STORAGE[language] not in classic.groups


def test_english_cluster_exe_error_is_the_captured_layout() -> None:
    for code in (5908, 5960, 5013, 4242):
        assert sim_locale.format_error(code, "en-US") == cx.format_error(code)


@pytest.mark.parametrize("language", OTHER)
def test_cluster_exe_error_text_is_localized_and_keeps_its_code(language: str) -> None:
    text = sim_locale.format_error(5960, language)
    assert "System error" not in text
    assert win32.LOCALIZED_MESSAGES[language][5960] in text
    assert cx.error_codes(text) == [5960]
    # The exit code alone carries it too, and the message is the localized paragraph.
    err = cx.parse_error("", text, 5960, "cluster group x /moveto:N2")
    assert isinstance(err, clusterlib.TransientClusterError) and err.win32_code == 5960
    assert err.message == win32.LOCALIZED_MESSAGES[language][5960]


@pytest.mark.parametrize("language", OTHER)
def test_cluster_exe_sim_prints_its_errors_in_the_language(language: str) -> None:
    sim = SimCluster.classic(language=language)
    sim.inject(GroupLocked("SQL Group 1", times=1))
    result = clusterlib.connect(sim).transport.run_cmd(
        CmdLine('cluster group "SQL Group 1" /moveto:NODE2', idempotent=False))
    assert result.exit_code == 5960
    assert win32.LOCALIZED_MESSAGES[language][5960] in result.stderr
    assert "System error" not in result.stderr


# In process for every language, with and without codes; over the wire one of each kind.
PS_ERRORS = [*((lang, codes, "inprocess") for lang in OTHER for codes in (True, False)),
             ("zh-TW", False, "winrm"), ("de-DE", True, "winrm")]


@pytest.mark.parametrize(("language", "error_codes", "transport"), PS_ERRORS)
def test_powershell_errors_in_the_language_keep_their_meaning(
        language: str, error_codes: bool, transport: str) -> None:
    sim = SimCluster.classic(os="2016", language=language, error_codes=error_codes)
    sim.inject(GroupLocked("SQL Group 1", times=50))
    with contextlib.ExitStack() as stack:
        if transport == "winrm":
            from transport_factories import winrm_factory

            cluster = clusterlib.connect(stack.enter_context(winrm_factory(sim)))
        else:
            cluster = clusterlib.connect(sim)
        stack.callback(cluster.close)
        _check_ps_errors(cluster, language)


def _check_ps_errors(cluster: clusterlib.Cluster, language: str) -> None:
    with pytest.raises(clusterlib.TransientClusterError) as err:
        cluster.group("SQL Group 1").move("NODE2")
    assert err.value.win32_code == 5960
    assert win32.LOCALIZED_MESSAGES[language][5960] in err.value.message
    # A name the cluster does not have is NotFound, listing the localized core group.
    with pytest.raises(clusterlib.GroupNotFound) as missing:
        cluster.group("nope").move("NODE2")
    assert sim_locale.CORE_GROUP[language] in missing.value.valid
    with pytest.raises(clusterlib.NodeNotFound):
        cluster.node("NODE9").pause()


def test_text_only_records_carry_no_code_over_the_wire() -> None:
    from transport_factories import winrm_factory

    sim = SimCluster.classic(os="2016", language="zh-TW", error_codes=False)
    sim.inject(GroupLocked("SQL Group 1", times=1))
    with winrm_factory(sim) as transport:
        from clusterlib.wire import Cmdlet, Pipeline

        result = transport.run_pipeline(Pipeline.of(
            Cmdlet("Move-ClusterGroup", {"Name": "SQL Group 1", "Node": "NODE2"}), idempotent=False))
    assert len(result.errors) == 1
    rec = result.errors[0]
    assert rec.win32_code is None  # no NativeErrorCode, no 0x8007xxxx HResult on the wire
    assert rec.message == win32.LOCALIZED_MESSAGES["zh-TW"][5960]
    assert record_code(rec) == 5960
