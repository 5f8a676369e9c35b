"""``python -m bt``: run one backtest from a config file."""

from bt.cli import main

raise SystemExit(main())
