#!/usr/bin/env bash
# The seed's classic procedure as a CLI runbook: a two-node Windows 2000 cluster rolled to
# Windows Server 2003, node 1 first, each node drained, upgraded, rebooted, verified and resumed.
#
# Where the cluster is comes from the environment, set once for the whole runbook (every
# connection option has a CLUSTERLIB_* variable; see docs/cli.md):
#
#   export CLUSTERLIB_HOST=mgmt1.corp.example      # a management host with cluster.exe and WMI
#   export CLUSTERLIB_USER='CORP\clusteradmin' CLUSTERLIB_AUTH=ntlm
#   export CLUSTERLIB_PASSWORD=...                  # or leave unset: you are asked once per step
#
# To rehearse on the simulator, serve one and use the options it prints:
#   clusterlib sim serve --sim classic --ssl --password-file pw.txt
#
# INSTALLER is the unattended setup line (Windows 2000/2003 media: i386\winnt32.exe); the CLI
# starts it on each node through WMI from the management host, as Windows 2000 nodes have no
# WinRM. JOURNAL is where the run records every step, to resume after any stop.
set -euo pipefail

INSTALLER=${INSTALLER:-'D:\i386\winnt32.exe /unattend'}
JOURNAL=${JOURNAL:-classic-upgrade.json}
REPORT=${REPORT:-classic-upgrade.html}

echo "== 1. The cluster before: every node Up, every group Online"
clusterlib status

echo "== 2. The plan: preflight checks, the order, the exact commands (changes nothing)"
clusterlib upgrade plan --command "$INSTALLER" --order NODE1,NODE2

echo "== 3. The run (exit 4: stopped safely; the printed command resumes it)"
status=0
clusterlib upgrade run --command "$INSTALLER" --order NODE1,NODE2 --journal "$JOURNAL" \
    --html "$REPORT" --yes || status=$?
if [ "$status" -ne 0 ]; then
    echo "the run did not complete (exit $status): see the report above and $REPORT" >&2
    exit "$status"
fi

echo "== 4. The cluster after: both nodes on Windows Server 2003, groups back home"
clusterlib status
