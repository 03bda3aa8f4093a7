"""Fast step implementations; importing this package registers them with ``ncaforge.core.rollout``.

Order matters: "auto" picks the first registered path that supports a model on its device."""

from ncaforge.kernels import active_cells, fused_cells, triton_step

__all__ = ["active_cells", "fused_cells", "triton_step"]
