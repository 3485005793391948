"""Tooling: the notebook runner, the command line and the paper profile's GPU plan."""
