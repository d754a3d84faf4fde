"""Analyses built on single solves: budget sweeps (frontier) and Monte Carlo over the catalogue's ranges."""
