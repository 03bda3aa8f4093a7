"""Fast implementations of the NCA step, tested against the reference in core/nca.py."""
