"""How the CLI is put together: option bundles declared once, one output context per invocation."""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import threading
from typing import Any

import pytest
from typer.testing import CliRunner

from clusterlib.sim import SimCluster
from clusterlib.sim.layouts import LAYOUTS_HELP
from clusterlib_cli import main, options, render, upgrade_args, upgrade_cmds
from clusterlib_cli.progress import Progress
from clusterlib_cli.render import RenderContext

ENV = {"NO_COLOR": "1", "CLUSTERLIB_PASSWORD": "", "CLUSTERLIB_HOST": "", "CLUSTERLIB_SIM": "",
       "CLUSTERLIB_DEBUG": "", "COLUMNS": "300"}
SECRET = "pw-4e1f0c-never-shown"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main.app, list(args), env={**ENV, **(env or {})})


# --- option bundles -------------------------------------------------------------------------------

def _params(command: Any) -> list[str]:
    return list(inspect.signature(command).parameters)


@pytest.mark.parametrize("command", [upgrade_cmds.upgrade_plan, upgrade_cmds.upgrade_run])
def test_plan_and_run_take_every_upgrade_option(command: Any) -> None:
    params = _params(command)
    fields = [f.name for f in dataclasses.fields(upgrade_args.UpgradeArgs)]
    assert "upgrade" not in params and "target" not in params
    # Where the bundle's parameter stood, in the dataclass's order; the connection options last.
    assert params[:len(fields)] == fields
    assert params[-2:] == ["debug", "clusterlib_ctx"]


def test_run_and_resume_take_the_reporting_options() -> None:
    wanted = [f.name for f in dataclasses.fields(upgrade_args.RunReporting)]
    for command in (upgrade_cmds.upgrade_run, upgrade_cmds.upgrade_resume):
        params = _params(command)
        assert "reporting" not in params
        start = params.index(wanted[0])
        assert params[start:start + len(wanted)] == wanted


@pytest.mark.parametrize("command", [main.node_pause, main.node_resume, main.group_move])
def test_changing_commands_take_dry_run_yes_and_json(command: Any) -> None:
    params = _params(command)
    assert params[0] == "name" and "flags" not in params
    assert {"dry_run", "yes", "json", "host", "sim"} <= set(params)


def test_plan_and_run_dry_run_build_the_same_plan() -> None:
    """The two commands get their options from one bundle: the same options, the same plan."""
    given = ["--sim", "classic-2012r2", "--json", "--order", "NODE2,NODE1", "--failback", "each",
             "--max-failed-nodes", "1", "--validation-group", "none", "--drain-timeout", "600"]
    plan = invoke("upgrade", "plan", *given)
    run = invoke("upgrade", "run", *given, "--dry-run")
    assert plan.exit_code == 0 and run.exit_code == 0, plan.output + run.output
    plan_doc, run_doc = json.loads(plan.stdout), json.loads(run.stdout)
    assert plan_doc["order"] == run_doc["order"] == ["NODE2", "NODE1"]
    assert plan_doc["steps"] == run_doc["steps"]
    assert '"failback": "each"' in plan.stdout and '"drain_timeout": 600.0' in plan.stdout


def test_a_bad_failback_is_a_usage_error_naming_the_values() -> None:
    result = invoke("upgrade", "plan", "--sim", "classic-2012r2", "--failback", "sometimes")
    assert result.exit_code == 2
    assert "--failback is 'end' or 'each'" in result.output


def test_the_layouts_help_is_the_librarys() -> None:
    # --help must not import the simulator, so the CLI keeps its own copy of the words.
    assert options.SIM_LAYOUTS_HELP == LAYOUTS_HELP


@pytest.mark.parametrize(("os", "upgrade_to", "line"), [
    ("2000", "2003", upgrade_args.SIM_LEGACY_COMMAND),
    ("2012R2", "2016", upgrade_args.SIM_DEFAULT_COMMAND),
    ("2003", None, upgrade_args.SIM_DEFAULT_COMMAND),
])
def test_the_stand_in_installer_follows_the_target_release(os: str, upgrade_to: str | None,
                                                          line: str) -> None:
    sim = SimCluster.classic(os=os, upgrade_to=upgrade_to)
    assert upgrade_args.sim_command(sim) == line


# --- one output context per invocation --------------------------------------------------------------

def test_each_invocation_gets_its_own_output_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password registered by one invocation is scrubbed from that invocation's output, and
    is not carried into the next one (nor visible outside any invocation)."""
    made: list[RenderContext] = []
    begin = render.begin

    def recording(ctx: Any) -> RenderContext:
        made.append(begin(ctx))
        return made[-1]

    monkeypatch.setattr(render, "begin", recording)
    first = invoke("nodes", "--host", "127.0.0.1", "--port", "1", "--no-ssl", "--auth", "basic",
                   "--user", "u", "--connect-timeout", "0.5",
                   env={"CLUSTERLIB_PASSWORD": SECRET})
    second = invoke("nodes", "--sim", "classic-2012r2")
    assert first.exit_code == 3 and second.exit_code == 0, first.output + second.output
    assert SECRET not in first.output
    assert len(made) == 2 and made[0] is not made[1]
    assert SECRET in made[0].secrets and not made[1].secrets
    assert made[0].target.host == "127.0.0.1" and made[1].target.is_sim
    assert not render.current().secrets  # outside an invocation: nothing remembered


def test_progress_lines_from_another_thread_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    """Library events arrive on worker threads, where no invocation is current: the progress
    display scrubs with the context it was handed."""
    ui = RenderContext()
    ui.add_secret(SECRET)
    progress = Progress("Moving", live=False, ui=ui)
    worker = threading.Thread(target=progress.on_cluster_event,
                              args=("retry", {"group": "G", "target": "N2", "attempt": 1,
                                              "error": f"denied for {SECRET}"}))
    worker.start()
    worker.join()
    err = capsys.readouterr().err
    assert "retrying move of G to N2" in err and "********" in err and SECRET not in err


def test_library_log_records_go_through_the_invocations_context(
        capsys: pytest.CaptureFixture[str]) -> None:
    lib = logging.getLogger("clusterlib")
    ui = RenderContext()
    ui.add_secret(SECRET)
    ui.set_debug(False)
    try:
        worker = threading.Thread(target=logging.getLogger("clusterlib.transports").error,
                                  args=(f"the server said {SECRET}",))
        worker.start()
        worker.join()
        err = capsys.readouterr().err
        assert "warning: the server said ********" in err and SECRET not in err
        # A later context replaces this one's handler instead of adding a second.
        later = RenderContext()
        later.set_debug(False)
        assert [h.ui for h in lib.handlers if isinstance(h, render._WarnHandler)] == [later]
        later.close()
    finally:
        ui.close()
    assert not [h for h in lib.handlers if isinstance(h, render._WarnHandler)]


def test_debug_does_not_outlive_its_invocation() -> None:
    """--debug opens the library's logging for that invocation only (an embedding program, or
    the next CliRunner call, finds the logger as it was)."""
    lib = logging.getLogger("clusterlib")
    before = (lib.level, lib.propagate)
    result = invoke("node", "pause", "NODE9", "--sim", "classic-2012r2", "--yes", "--debug")
    assert result.exit_code == 1 and "Traceback" in result.output
    assert (lib.level, lib.propagate) == before
    assert not [h for h in lib.handlers if isinstance(h, render._WarnHandler)]
