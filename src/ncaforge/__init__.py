"""ncaforge: a toolkit for Neural Cellular Automata (grow, classify, reprogram, analyse)."""

from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA

__all__ = ["NCA", "Layout"]
__version__ = "0.1.0"
