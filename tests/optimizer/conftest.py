"""Shared fixtures: a small sliced copy of the EURUSD fixtures, study files, a marker."""

from opt_fixtures import base_config, marker, small_data, write_study  # noqa: F401 (fixtures)
