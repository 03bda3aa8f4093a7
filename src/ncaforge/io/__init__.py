"""Checkpoints, atomic file writes and importers of published models."""
