"""The simulator's UI languages: localized error messages, cluster.exe's error line, localized names.

A real cluster answers in its UI language: PowerShell error records and cluster.exe print the
system message in that language, and setup names the core group and the storage group in it.
``SimCluster(..., language="pt-BR")`` makes the simulator do the same, so the library is tested
against errors whose words it cannot rely on. Languages: en-US (default), pt-BR, de-DE, zh-TW.

Sources and status of the texts:

* Message texts: :data:`clusterlib.win32.LOCALIZED_MESSAGES`. **Constructed** for pt-BR, de-DE
  and zh-TW (written after Microsoft's English text; Microsoft's own per-language pages, the
  "System Error Codes (4000-5999)" pages under learn.microsoft.com/<lang>/windows/win32/debug/,
  were not available to check them).
* Core group names: the core group is named by setup in the UI language ([P], reference section 7;
  MS-CMRP: the core group is identified by the CLUS_GROUP_TYPE / IsCoreGroup, not by its name).
  "Grupo de Cluster" (pt-BR), "Clustergruppe" (de-DE), "叢集群組" (zh-TW): **constructed**.
* "Available Storage" names: "Armazenamento Disponível", "Verfügbarer Speicher", "可用存放裝置":
  **constructed**.
* cluster.exe's error line ("System error N has occurred (0x%08x)."): the English line is
  captured ([V], clusterlib.wire.cluster_text.format_error); the translations are **constructed**, modelled
  on net.exe's well-known localized "System error N has occurred." lines, and keep the
  ``(0x........).`` insert at the line's end, which the library reads ([P]: a translation keeps
  the message's inserts).

What stays English in every language (as the library does not depend on it either way):
PowerShell's own engine errors (command not found, parameter binding: classified by their
FullyQualifiedErrorId), the simulator's "not simulated" refusals, cmd.exe's text around its exit
code 9009, and cluster.exe's listings (status words such as "Online": whether cluster.exe
translates them is [U]).
"""

from __future__ import annotations

from clusterlib import win32

CRLF = "\r\n"

#: The UI languages the simulator speaks; en-US first (the default).
LANGUAGES: tuple[str, ...] = ("en-US", "pt-BR", "de-DE", "zh-TW")

#: The language a SimCluster speaks when none is given. A test run may set it (tests/conftest.py
#: reads CLUSTERLIB_TEST_LANGUAGE or --sim-language) to run every simulator in another language.
DEFAULT_LANGUAGE = "en-US"

#: Whether a SimCluster's PowerShell error records carry their Win32 code when none is given
#: (``error_codes=``); a test run may turn it off (CLUSTERLIB_TEST_ERROR_CODES=0).
DEFAULT_ERROR_CODES = True

CORE_GROUP: dict[str, str] = {
    "en-US": "Cluster Group",
    "pt-BR": "Grupo de Cluster",  # constructed
    "de-DE": "Clustergruppe",  # constructed
    "zh-TW": "叢集群組",  # constructed
}

AVAILABLE_STORAGE: dict[str, str] = {
    "en-US": "Available Storage",
    "pt-BR": "Armazenamento Disponível",  # constructed
    "de-DE": "Verfügbarer Speicher",  # constructed
    "zh-TW": "可用存放裝置",  # constructed
}

# cluster.exe's error text per language: the first error line ({code} decimal, {hex} the 8-digit
# lower-case insert), and what FormatMessage leaves when the language has no text for a code (317,
# ERROR_MR_MID_NOT_FOUND as cluster.exe prints it in English; the translations constructed).
_ERROR_LINES: dict[str, tuple[str, str]] = {
    "en-US": ("System error {code} has occurred (0x{hex}).",
              "Error 0x13d formatting string for error code 0x{code:x}"),
    "pt-BR": ("Ocorreu o erro de sistema {code} (0x{hex}).",  # constructed
              "Erro 0x13d ao formatar a cadeia de caracteres do código de erro 0x{code:x}"),
    "de-DE": ("Systemfehler {code} aufgetreten (0x{hex}).",  # constructed
              "Fehler 0x13d beim Formatieren der Zeichenfolge für Fehlercode 0x{code:x}"),
    "zh-TW": ("發生系統錯誤 {code} (0x{hex}).",  # constructed
              "格式化錯誤碼 0x{code:x} 的字串時發生錯誤 0x13d"),
}


def check_language(language: str | None) -> str:
    """The canonical spelling of ``language`` (case-insensitive; None is the default language),
    or ValueError naming the languages the simulator speaks."""
    if language is None:
        language = DEFAULT_LANGUAGE
    for known in LANGUAGES:
        if str(language).strip().lower() == known.lower():
            return known
    raise ValueError(f"language {language!r} is not one the simulator speaks; valid languages:"
                     f" {', '.join(LANGUAGES)}")


def message(code: int, language: str, default: str | None = None) -> str:
    """The system message of ``code`` in ``language``; ``default`` (else the English text, else
    "Win32 error N") when the catalog has none."""
    text = win32.localized_message(code, language)
    if text is not None:
        return text
    return default or win32.message(code) or f"Win32 error {code}"


def error_text(code: int, detail: str, language: str) -> str:
    """The message an error record carries: the simulator's English ``detail`` on an en-US
    cluster; elsewhere the code's localized system message (the English detail's extra words,
    such as a group's name, are not translated: the localized text stands alone)."""
    if language == "en-US":
        return detail
    return message(code, language, default=detail)


def core_group(language: str) -> str:
    """The name setup gives the core group in ``language``."""
    return CORE_GROUP[check_language(language)]


def available_storage(language: str) -> str:
    """The name setup gives the "Available Storage" group in ``language``."""
    return AVAILABLE_STORAGE[check_language(language)]


def format_error(code: int, language: str) -> str:
    """What cluster.exe prints on stderr when a call fails with Win32 ``code``, in ``language``:
    the "System error" line (with its ``(0x........).`` insert), a blank line, the message."""
    lang = check_language(language)
    system_error, no_text = _ERROR_LINES[lang]
    text = win32.localized_message(code, lang) or no_text.format(code=code)
    first = system_error.format(code=code, hex=f"{code:08x}")
    return CRLF.join([first, "", text]) + CRLF


__all__ = ["AVAILABLE_STORAGE", "CORE_GROUP", "DEFAULT_ERROR_CODES", "DEFAULT_LANGUAGE", "LANGUAGES",
           "available_storage", "check_language", "core_group", "error_text", "format_error",
           "message"]
