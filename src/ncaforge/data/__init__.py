"""Targets, data sets and the bundled assets they come from."""
