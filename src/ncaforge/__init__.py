"""ncaforge: a toolkit for Neural Cellular Automata (grow, classify, reprogram, analyse).

``import ncaforge as nf``: ``nf.build``, ``nf.load``, ``nf.save``, ``nf.train``, ``nf.grow``,
``nf.render``, ``nf.animate``, ``nf.evaluate``, ``nf.attack``, ``nf.families``; the family
registry is ``ncaforge.core.family`` (``nf.Family``, ``nf.register``).
"""

# Subpackages first: importing one later would set its name on this package over a verb of the same
# name (ncaforge.render, ncaforge.families); kernels registers the fast steps.
import ncaforge.families
import ncaforge.kernels
import ncaforge.render  # noqa: F401
from ncaforge.api import animate, attack, build, evaluate, families, grow, load, render, save, train
from ncaforge.core.family import Family, register
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.version import __version__

__all__ = ["NCA", "Family", "Layout", "__version__", "animate", "attack", "build", "evaluate", "families",
           "grow", "load", "register", "render", "save", "train"]
