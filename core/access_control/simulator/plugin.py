"""The simulator as a built-in plugin: provisions new systems, answers last for every system, owns its migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.access_control.simulator.adapter import SimulatorAccessControl
from core.access_control.simulator.provisioning import provision
from core.hookspecs import hookimpl

if TYPE_CHECKING:
    from core.portal import Portal
    from core.requests.context import HookContext
    from core.views import SystemView

MIGRATIONS = Path(__file__).parent / "migrations"


@hookimpl
def bbportal_system_added(system: SystemView, context: HookContext) -> None:
    assert system.id is not None
    provision(context.session, system.id, context.clock.now())


@hookimpl(trylast=True)
def bbportal_access_control(system: SystemView, portal: Portal) -> SimulatorAccessControl:
    assert system.id is not None
    return SimulatorAccessControl(portal.database, portal.clock, system.id, system.name)


@hookimpl
def bbportal_migration_locations() -> list[Path]:
    return [MIGRATIONS]
