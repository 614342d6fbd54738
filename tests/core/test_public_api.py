"""The public surface is pinned: a rename or removal is a deliberate, visible change."""

from __future__ import annotations

import clusterlib
import clusterlib.errors as errors


def test_exported_members() -> None:
    exported = set(clusterlib.__all__)
    for name in ("connect", "Cluster", "Node", "Group", "ClusterError", "NodeNotFound",
                 "GroupNotFound", "AuthenticationError", "ClusterSnapshot", "NodeState",
                 "GroupState", "DrainStatus", "Policies", "InsecureConnection",
                 "ResponseTooLarge"):
        assert name in exported, name
    for name in exported:
        assert hasattr(clusterlib, name), name


def test_exception_tree() -> None:
    assert issubclass(errors.NodeNotFound, errors.ClusterError)
    assert issubclass(errors.GroupNotFound, errors.NotFound)
    assert issubclass(errors.AuthenticationError, errors.ConnectionFailed)
    assert issubclass(errors.TransientClusterError, errors.ClusterRefused)
    assert issubclass(errors.UnsafeName, errors.PreconditionFailed)
    assert not issubclass(errors.ConnectionFailed, errors.ClusterRefused)
    # A response past its bound is a failed conversation; cleartext Basic is refused up front.
    assert issubclass(errors.ResponseTooLarge, errors.ConnectionFailed)
    assert issubclass(errors.InsecureConnection, errors.PreconditionFailed)


def test_refused_errors_carry_code_symbol_and_command() -> None:
    exc = errors.refused_from("The cluster node is not paused.", command="Resume-ClusterNode -Name 'N1'")
    assert exc.win32_code == 5058 and exc.symbol == "ERROR_CLUSTER_NODE_NOT_PAUSED"
    assert str(exc) == ("The cluster node is not paused. (Win32 5058 ERROR_CLUSTER_NODE_NOT_PAUSED)"
                        " [command: Resume-ClusterNode -Name 'N1']")
    busy = errors.refused_from("x", win32_code=5908)
    assert isinstance(busy, errors.TransientClusterError)


def test_win32_code_found_in_real_message_text() -> None:
    from clusterlib import win32

    # The real ErrorRecord (samples/ps_move_clustergroup_error_record_ws2016.txt) has no number.
    text = ("An error occurred while moving the clustered role 'sr-fs-006'.\nThe operation failed"
            " because either the specified cluster node is not the owner of the group, or the node"
            " is not a possible owner of the group")
    assert win32.code_from_text(text) == 5016
    assert win32.code_from_text("System error 5065 has occurred (0x000013c9).") == 5065
    assert win32.code_from_text("HRESULT 0x800713BA") == 5050
    assert win32.code_from_text("nothing to see") is None
