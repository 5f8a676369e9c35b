"""The study dashboard (OPTIMIZER §6): read-only web pages over the study database.

``python -m optimizer dashboard [--storage URL] [--host 127.0.0.1] [--port 8080]``
serves a list of studies, per study the leaderboard (OPTIMIZER §4 order), the
optimization history, the objective against each parameter, parameter importances and a
heatmap, and per trial its params, seed, config_hash, metrics, a replayed equity curve
with drawdown and trades, and the exact ``replay`` command. Pages refresh themselves
while a sweep runs. Standard library HTTP server, vanilla JavaScript and SVG charts
shipped in ``static/``: no network needed. See ``docs/dashboard.md``.
"""

from optimizer.dashboard._app import DashboardApp
from optimizer.dashboard._serve import make_server, serve
from optimizer.dashboard._server import DashboardServer

__all__ = ["DashboardApp", "DashboardServer", "make_server", "serve"]
