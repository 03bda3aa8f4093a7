"""The version of ncaforge, written into checkpoints and exported sites."""

__version__ = "0.1.0"
