"""The shared trainer: optimisation, schedules, the sample pool, checkpoints, resume."""
