"""Fleets: rolling upgrades of many clusters from one inventory, in waves, with one budget and one report.

::

    from clusterlib.fleet import Fleet, load_inventory

    fleet = Fleet(load_inventory("fleet.toml"), on_event=lambda e: print(e.line()))
    print(fleet.plan().to_text())     # preflight of every cluster; nothing is changed
    report = fleet.run()              # FleetReport; Fleet.from_journal(...).run() resumes
    report.write()                    # fleet-report.json and index.html in the journal folder

See docs/fleet.md.
"""

from clusterlib.fleet.errors import FleetError
from clusterlib.fleet.inventory import (
    ClusterEntry,
    Inventory,
    InventoryError,
    load_inventory,
    parse_inventory,
)
from clusterlib.fleet.progress import NotebookProgress, print_events
from clusterlib.fleet.records import ClusterPlan, FleetEvent, FleetPlan
from clusterlib.fleet.report import ClusterResult, FleetReport
from clusterlib.fleet.runner import (
    Fleet,
    FleetRefused,
    already_upgraded,
    connect_entry,
)

__all__ = [
    "ClusterEntry",
    "ClusterPlan",
    "ClusterResult",
    "Fleet",
    "FleetError",
    "FleetEvent",
    "FleetPlan",
    "FleetRefused",
    "FleetReport",
    "Inventory",
    "InventoryError",
    "NotebookProgress",
    "already_upgraded",
    "connect_entry",
    "load_inventory",
    "parse_inventory",
    "print_events",
]
