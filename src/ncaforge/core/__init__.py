"""The parts of a cell rule: perception, update, alive and fire masks, and the NCA module."""
