"""Win32 error codes that failover clusters report, and how to tell which one an error is in any UI language.

Classification never depends on the cluster's UI language when the error carries anything
language-neutral. In order (:func:`code_of`):

1. the Win32 code the record carried: an inner ``Win32Exception``'s ``NativeErrorCode`` or an
   exception ``HResult`` of the form 0x8007xxxx (HRESULT_FROM_WIN32), read by the transport;
2. the ``FullyQualifiedErrorId`` and category (:data:`ERROR_ID_CODES`, :func:`code_from_error_id`);
3. a hexadecimal code in the text: cluster.exe's ``(0x000016f4)`` insert or an HRESULT
   ``0x80071714`` (kept verbatim by every language);
4. last resort, the message text against Microsoft's English texts and the localized catalog
   :data:`LOCALIZED_MESSAGES` (pt-BR, de-DE, zh-TW).

Which of these fields a real FailoverClusters ErrorRecord carries over PSRP is partly unverified:
MS-PSRP 2.2.3.15 (ErrorRecord) serializes the exception with its properties, and .NET exceptions
have ``HResult`` (learn.microsoft.com, System.Exception.HResult; Win32Exception.NativeErrorCode),
but the one real capture we have (samples ps_move_clustergroup_error_record_ws2016) shows a
``ClusterCmdletException`` whose FullyQualifiedErrorId is only ``Move-ClusterGroup,<command type>``
and whose message carries the Win32 text, not the number [P]. Whether the inner exception is a
Win32Exception with NativeErrorCode once it crosses the wire is [U]; hence the text fallback.
"""

from __future__ import annotations

import re

# Messages are verbatim from Microsoft's system error code list (reference section 1.13).
WIN32_ERRORS: dict[int, tuple[str, str]] = {
    5: ("ERROR_ACCESS_DENIED", "Access is denied."),
    13: ("ERROR_INVALID_DATA", "The data is invalid."),
    70: ("ERROR_SHARING_PAUSED", "The remote server has been paused or is in the process of being started."),
    87: ("ERROR_INVALID_PARAMETER", "The parameter is incorrect."),
    114: ("ERROR_INVALID_TARGET_HANDLE", "The target internal file identifier is incorrect."),
    997: ("ERROR_IO_PENDING", "Overlapped I/O operation is in progress."),
    1223: ("ERROR_CANCELLED", "The operation was canceled by the user."),
    1722: ("RPC_S_SERVER_UNAVAILABLE", "The RPC server is unavailable."),
    1753: ("EPT_S_NOT_REGISTERED", "There are no more endpoints available from the endpoint mapper."),
    1825: ("RPC_S_SEC_PKG_ERROR", "A security package specific error occurred."),
    5005: ("ERROR_HOST_NODE_NOT_AVAILABLE", "A cluster node is not available for this operation."),
    5007: ("ERROR_RESOURCE_NOT_FOUND", "The cluster resource could not be found."),
    5009: (
        "ERROR_CANT_EVICT_ACTIVE_NODE",
        "A cluster node cannot be evicted from the cluster unless the node is down or it is the last node.",
    ),
    5013: ("ERROR_GROUP_NOT_FOUND", "The cluster group could not be found."),
    5016: (
        "ERROR_HOST_NODE_NOT_GROUP_OWNER",
        "The operation failed because either the specified cluster node is not the owner of the group,"
        " or the node is not a possible owner of the group.",
    ),
    5018: (
        "ERROR_RESMON_ONLINE_FAILED",
        "The cluster resource could not be brought online by the resource monitor.",
    ),
    5023: (
        "ERROR_INVALID_STATE",
        "The group or resource is not in the correct state to perform the requested operation.",
    ),
    5037: ("ERROR_ALL_NODES_NOT_AVAILABLE", "All cluster nodes must be running to perform this operation."),
    5038: ("ERROR_RESOURCE_FAILED", "A cluster resource failed."),
    5042: ("ERROR_CLUSTER_NODE_NOT_FOUND", "The cluster node was not found."),
    5043: ("ERROR_CLUSTER_LOCAL_NODE_NOT_FOUND", "The cluster local node information was not found."),
    5050: ("ERROR_CLUSTER_NODE_DOWN", "The cluster node is down."),
    5051: ("ERROR_CLUSTER_NODE_UNREACHABLE", "The cluster node is not reachable."),
    5052: ("ERROR_CLUSTER_NODE_NOT_MEMBER", "The cluster node is not a member of the cluster."),
    5056: ("ERROR_CLUSTER_NODE_UP", "The cluster node is up."),
    5058: ("ERROR_CLUSTER_NODE_NOT_PAUSED", "The cluster node is not paused."),
    5061: ("ERROR_CLUSTER_NODE_ALREADY_UP", "The cluster node is already up."),
    5062: ("ERROR_CLUSTER_NODE_ALREADY_DOWN", "The cluster node is already down."),
    5065: ("ERROR_CLUSTER_NODE_ALREADY_MEMBER", "The cluster node is already a member of the cluster."),
    5070: ("ERROR_CLUSTER_NODE_PAUSED", "The cluster node is paused."),
    5075: (
        "ERROR_CLUSTER_INCOMPATIBLE_VERSIONS",
        "The cluster join operation failed due to incompatible software versions between the joining"
        " node and its sponsor.",
    ),
    5082: (
        "ERROR_CLUSTER_OWNER_NOT_IN_PREFLIST",
        "You cannot bring the group online because the owner of the group is not in the preferred list"
        " for the group. To change the owner node for the group, move the group.",
    ),
    5899: (
        "ERROR_CLUSTER_WRONG_OS_VERSION",
        "This computer cannot be made a member of a cluster because it does not have the correct version"
        " of Windows installed.",
    ),
    5904: (
        "ERROR_CLUSTER_OLD_VERSION",
        "One or more nodes in the cluster are running a version of Windows that does not support this"
        " operation.",
    ),
    5908: (
        "ERROR_CLUSTER_GROUP_MOVING",
        "The group is unable to accept the request since it is moving to another node.",
    ),
    5925: ("ERROR_CLUSTER_NO_QUORUM", "A quorum of cluster nodes was not present to form a cluster."),
    5944: (
        "ERROR_CLUSTER_GROUP_BUSY",
        "The current operation cannot be performed on this group at this time.",
    ),
    5953: (
        "ERROR_CLUSTER_RESOURCE_VETOED_MOVE_INCOMPATIBLE_NODES",
        "A resource vetoed a move between two nodes because they are incompatible.",
    ),
    5959: (
        "ERROR_CLUSTER_GROUP_QUEUED",
        "The requested operation can not be completed because the group is queued for an operation.",
    ),
    5960: (
        "ERROR_CLUSTER_RESOURCE_LOCKED_STATUS",
        "The requested operation can not be completed because a resource has locked status.",
    ),
    5962: ("ERROR_CLUSTER_NODE_DRAIN_IN_PROGRESS", "A node drain is already in progress."),
    5971: (
        "ERROR_CLUSTER_AFFINITY_CONFLICT",
        "The operation cannot be completed because of cluster affinity conflicts.",
    ),
}

# Codes that mean "try again shortly": the group or node is busy, not refusing for good.
TRANSIENT_CODES: frozenset[int] = frozenset({70, 5908, 5944, 5959, 5960, 5962, 1722, 1753})

_HEX = re.compile(r"0x(?:8007)?([0-9a-fA-F]{4,8})\b")
# A code in words: English, pt-BR, de-DE, zh-TW (cluster.exe's and net.exe's "System error N"
# line as translated; the translations are constructed, see LOCALIZED_MESSAGES).
_DEC_WORDS = re.compile(
    r"(?:System error|error code|error status of|Win32 error|Erro de sistema|c[oó]digo de erro"
    r"|Systemfehler|Fehlercode|系統錯誤|錯誤碼)\s*:?\s*(\d{1,5})\b", re.I)


def symbol(code: int) -> str | None:
    """The ERROR_* name of a code, if the table knows it."""
    entry = WIN32_ERRORS.get(code)
    return entry[0] if entry else None


def message(code: int) -> str | None:
    """Microsoft's message text for a code, if the table knows it."""
    entry = WIN32_ERRORS.get(code)
    return entry[1] if entry else None


def code_from_text(text: str) -> int | None:
    """Find a Win32 code in an error's text (the last resort of :func:`code_of`).

    First a code the text states: a decimal after "System error" or its translations, then a
    hexadecimal one (cluster.exe's ``(0x00001714)``, an HRESULT ``0x80071714``), which no
    translation changes. Failing that, the message itself is looked up among Microsoft's English
    texts and the localized catalog (:data:`LOCALIZED_MESSAGES`), ignoring case, punctuation,
    blanks and line breaks; the longest text found wins, so a message that quotes a shorter one
    is taken for the longer.
    """
    for match in _DEC_WORDS.finditer(text):
        return int(match.group(1))
    for match in _HEX.finditer(text):
        value = int(match.group(1), 16)
        if value in WIN32_ERRORS or 5000 <= value <= 5999:
            return value
    flat = _flatten(text)
    if not flat:
        return None
    best: tuple[int, int] | None = None
    for code, key in _catalog_keys():
        if key in flat and (best is None or len(key) > best[1]):
            best = (code, len(key))
    return best[0] if best else None


def _flatten(text: str) -> str:
    # Letters and digits of every script survive (a zh-TW text is all CJK letters); blanks,
    # punctuation (full-width too) and case do not.
    return re.sub(r"[\W_]+", "", text.casefold())


def _catalog_keys() -> tuple[tuple[int, str], ...]:
    return _KEYS


def _build_keys() -> tuple[tuple[int, str], ...]:
    texts = [(code, msg) for code, (_sym, msg) in WIN32_ERRORS.items()]
    texts += [(code, msg) for table in LOCALIZED_MESSAGES.values() for code, msg in table.items()]
    keys = [(code, _flatten(msg)) for code, msg in texts]
    # Too short a text would match inside unrelated words: 12 letters for alphabetic scripts; a
    # CJK character carries about a word, so 4 there.
    return tuple((c, k) for c, k in keys
                 if len(k) >= (4 if any(ord(ch) >= 0x2E80 for ch in k) else 12))

#: FullyQualifiedErrorId heads (the part before the comma) that name one Win32 code. The
#: simulator writes these; whether a real FailoverClusters cmdlet uses the same ids is [U] (the
#: one real capture has ``Move-ClusterGroup,<command type>``, which names no code).
ERROR_ID_CODES: dict[str, int] = {
    "ClusterNodeNotFound": 5042,
    "ClusterGroupNotFound": 5013,
    "ClusterResourceNotFound": 5007,
    "ClusterRpcConnection": 1722,
    "ClusterEndpointNotRegistered": 1753,
}

#: An ObjectNotFound error from a cmdlet that reads one kind of object means that kind was not
#: found [P]: PowerShell's ErrorCategory is language-neutral (learn.microsoft.com,
#: System.Management.Automation.ErrorCategory), the cmdlet name is the FQID's first part
#: (ErrorRecord.FullyQualifiedErrorId: "<id>,<command type>").
#: Only the Get- cmdlets: an action names two kinds of object (Move-ClusterGroup a group and a
#: node), so its ObjectNotFound alone does not say which was missing.
_NOT_FOUND_BY_CMDLET: dict[str, int] = {
    "get-clusternode": 5042, "get-clustergroup": 5013, "get-clusterresource": 5007,
}


def code_from_error_id(error_id: str, category: str = "") -> int | None:
    """The Win32 code a FullyQualifiedErrorId (and category) implies, if any."""
    head = error_id.split(",")[0].strip()
    if head in ERROR_ID_CODES:
        return ERROR_ID_CODES[head]
    if category == "ObjectNotFound":
        for part in error_id.split(","):
            code = _NOT_FOUND_BY_CMDLET.get(part.strip().lower())
            if code is not None:
                return code
    return None


def code_of(win32_code: int | None = None, error_id: str = "", category: str = "",
            message: str = "") -> int | None:
    """Which Win32 error an error record reports, in the order of the module docstring: the code
    it carried, its FullyQualifiedErrorId and category, a code in its text, its text."""
    if win32_code is not None:
        return win32_code
    code = code_from_error_id(error_id, category) if error_id else None
    if code is not None:
        return code
    return code_from_text(message) if message else None


# ---------------------------------------------------------------------------------------------
# Localized message texts
# ---------------------------------------------------------------------------------------------

#: The system messages of the codes above in the UI languages the simulator speaks.
#:
#: CONSTRUCTED: Microsoft publishes these per language ("System Error Codes (4000-5999)" under
#: learn.microsoft.com/pt-br/, /de-de/, /zh-tw/ windows/win32/debug/), but no copy of those
#: pages could be consulted while writing this table; every text below was written by us after
#: the English original (and, for 5 "Access is denied.", the widely quoted net.exe texts) and
#: will differ in wording from real Windows. The library never depends on them matching a real
#: cluster word for word: they are the last resort after the code, the error id and the
#: hexadecimal insert. Replace an entry with Microsoft's text when one is checked.
LOCALIZED_MESSAGES: dict[str, dict[int, str]] = {
    "pt-BR": {
        5: "Acesso negado.",
        13: "Os dados são inválidos.",
        70: "O servidor remoto foi pausado ou está sendo iniciado.",
        87: "O parâmetro está incorreto.",
        114: "O identificador de arquivo interno de destino está incorreto.",
        1223: "A operação foi cancelada pelo usuário.",
        1722: "O servidor RPC não está disponível.",
        1753: "Não há mais pontos de extremidade disponíveis no mapeador de pontos de extremidade.",
        5005: "Um nó de cluster não está disponível para esta operação.",
        5007: "O recurso de cluster não foi encontrado.",
        5013: "O grupo de cluster não foi encontrado.",
        5016: "Falha na operação porque o nó de cluster especificado não é o proprietário do grupo"
              " ou não é um possível proprietário do grupo.",
        5018: "O recurso de cluster não pôde ser colocado online pelo monitor de recursos.",
        5023: "O grupo ou recurso não está no estado correto para executar a operação solicitada.",
        5037: "Todos os nós de cluster devem estar em execução para executar esta operação.",
        5038: "Falha em um recurso de cluster.",
        5042: "O nó de cluster não foi encontrado.",
        5050: "O nó de cluster está inativo.",
        5051: "O nó de cluster não está acessível.",
        5052: "O nó de cluster não é membro do cluster.",
        5056: "O nó de cluster está ativo.",
        5058: "O nó de cluster não está pausado.",
        5061: "O nó de cluster já está ativo.",
        5062: "O nó de cluster já está inativo.",
        5065: "O nó de cluster já é membro do cluster.",
        5070: "O nó de cluster está pausado.",
        5075: "Falha na operação de ingresso no cluster devido a versões de software incompatíveis"
              " entre o nó que está ingressando e seu patrocinador.",
        5904: "Um ou mais nós do cluster estão executando uma versão do Windows que não dá suporte"
              " a esta operação.",
        5908: "O grupo não pode aceitar a solicitação porque está sendo movido para outro nó.",
        5944: "A operação atual não pode ser executada neste grupo no momento.",
        5959: "A operação solicitada não pode ser concluída porque o grupo está na fila para uma"
              " operação.",
        5960: "A operação solicitada não pode ser concluída porque um recurso tem status bloqueado.",
        5962: "Uma drenagem de nó já está em andamento.",
    },
    "de-DE": {
        5: "Zugriff verweigert",
        13: "Die Daten sind unzulässig.",
        70: "Der Remoteserver wurde angehalten oder wird gerade gestartet.",
        87: "Falscher Parameter.",
        114: "Der Zielbezeichner für interne Dateien ist falsch.",
        1223: "Der Vorgang wurde vom Benutzer abgebrochen.",
        1722: "Der RPC-Server ist nicht verfügbar.",
        1753: "Von der Endpunktzuordnung sind keine weiteren Endpunkte verfügbar.",
        5005: "Für diesen Vorgang ist kein Clusterknoten verfügbar.",
        5007: "Die Clusterressource wurde nicht gefunden.",
        5013: "Die Clustergruppe wurde nicht gefunden.",
        5016: "Der Vorgang ist fehlgeschlagen, da entweder der angegebene Clusterknoten nicht der"
              " Besitzer der Gruppe ist oder der Knoten kein möglicher Besitzer der Gruppe ist.",
        5018: "Die Clusterressource konnte von der Ressourcenüberwachung nicht online geschaltet"
              " werden.",
        5023: "Die Gruppe oder Ressource befindet sich nicht im richtigen Zustand, um den"
              " angeforderten Vorgang auszuführen.",
        5037: "Alle Clusterknoten müssen ausgeführt werden, um diesen Vorgang auszuführen.",
        5038: "Fehler bei einer Clusterressource.",
        5042: "Der Clusterknoten wurde nicht gefunden.",
        5050: "Der Clusterknoten ist ausgefallen.",
        5051: "Der Clusterknoten ist nicht erreichbar.",
        5052: "Der Clusterknoten ist kein Mitglied des Clusters.",
        5056: "Der Clusterknoten ist aktiv.",
        5058: "Der Clusterknoten ist nicht angehalten.",
        5061: "Der Clusterknoten ist bereits aktiv.",
        5062: "Der Clusterknoten ist bereits ausgefallen.",
        5065: "Der Clusterknoten ist bereits ein Mitglied des Clusters.",
        5070: "Der Clusterknoten ist angehalten.",
        5075: "Der Clusterbeitritt ist aufgrund inkompatibler Softwareversionen zwischen dem"
              " beitretenden Knoten und seinem Sponsor fehlgeschlagen.",
        5904: "Auf mindestens einem Knoten im Cluster wird eine Windows-Version ausgeführt, die"
              " diesen Vorgang nicht unterstützt.",
        5908: "Die Gruppe kann die Anforderung nicht annehmen, da sie auf einen anderen Knoten"
              " verschoben wird.",
        5944: "Der aktuelle Vorgang kann zurzeit nicht für diese Gruppe ausgeführt werden.",
        5959: "Der angeforderte Vorgang kann nicht abgeschlossen werden, da die Gruppe für einen"
              " Vorgang in der Warteschlange steht.",
        5960: "Der angeforderte Vorgang kann nicht abgeschlossen werden, da eine Ressource einen"
              " gesperrten Status aufweist.",
        5962: "Ein Knotenausgleich wird bereits ausgeführt.",
    },
    "zh-TW": {
        5: "存取被拒。",
        13: "資料無效。",
        70: "遠端伺服器已暫停或正在啟動中。",
        87: "參數不正確。",
        114: "目標內部檔案識別碼不正確。",
        1223: "使用者已取消作業。",
        1722: "RPC 伺服器無法使用。",
        1753: "端點對應程式沒有其他可用的端點。",
        5005: "叢集節點無法用於此作業。",
        5007: "找不到叢集資源。",
        5013: "找不到叢集群組。",
        5016: "作業失敗，因為指定的叢集節點不是群組的擁有者，或該節點不是群組可能的擁有者。",
        5018: "資源監視器無法讓叢集資源上線。",
        5023: "群組或資源的狀態不正確，無法執行要求的作業。",
        5037: "所有叢集節點都必須在執行中，才能執行此作業。",
        5038: "叢集資源失敗。",
        5042: "找不到叢集節點。",
        5050: "叢集節點已關閉。",
        5051: "無法連線到叢集節點。",
        5052: "叢集節點不是叢集的成員。",
        5056: "叢集節點已啟動。",
        5058: "叢集節點未暫停。",
        5061: "叢集節點已經啟動。",
        5062: "叢集節點已經關閉。",
        5065: "叢集節點已經是叢集的成員。",
        5070: "叢集節點已暫停。",
        5075: "由於加入的節點與其贊助者之間的軟體版本不相容，叢集加入作業失敗。",
        5904: "叢集中有一或多個節點執行的 Windows 版本不支援此作業。",
        5908: "群組正在移至其他節點，因此無法接受要求。",
        5944: "目前無法對此群組執行目前的作業。",
        5959: "無法完成要求的作業，因為群組已排入佇列等候作業。",
        5960: "無法完成要求的作業，因為資源處於鎖定狀態。",
        5962: "節點清空作業已在進行中。",
    },
}


def localized_message(code: int, language: str) -> str | None:
    """The message text of ``code`` in ``language`` ("en-US" is Microsoft's, the others are
    constructed, see :data:`LOCALIZED_MESSAGES`)."""
    if language.lower() == "en-us":
        return message(code)
    for lang, table in LOCALIZED_MESSAGES.items():
        if lang.lower() == language.lower():
            return table.get(code)
    return None


# Built once, at import: the flattened texts the last-resort lookup compares against.
_KEYS = _build_keys()
