"""The CLI's commands, one small module each."""

from optimizer.commands._base import Command
from optimizer.commands.dashboard import DashboardCommand
from optimizer.commands.replay import ReplayCommand
from optimizer.commands.show import ShowCommand
from optimizer.commands.studies import StudiesCommand
from optimizer.commands.sweep import SweepCommand

__all__ = [
    "Command",
    "DashboardCommand",
    "ReplayCommand",
    "ShowCommand",
    "StudiesCommand",
    "SweepCommand",
]
