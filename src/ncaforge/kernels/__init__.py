"""Fast step implementations; importing this package registers them with ``ncaforge.core.rollout``."""

from ncaforge.kernels import active_cells, triton_step

__all__ = ["active_cells", "triton_step"]
