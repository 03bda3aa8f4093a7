"""Named families of checkpointable modules: NCA assembled from core parts, and perturbations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ncaforge.interventions import perturbation
from ncaforge.models import classifier, growing, pde

# family name -> (config class with to_dict/from_dict, builder)
FAMILIES: dict[str, tuple[Any, Callable[[Any], nn.Module]]] = {
    growing.FAMILY: (growing.GrowingConfig, growing.build_growing),
    classifier.FAMILY: (classifier.ClassifierConfig, classifier.build_classifier),
    pde.FAMILY: (pde.PDEConfig, pde.build_pde),
    perturbation.FAMILY: (perturbation.PerturbationConfig, perturbation.Perturbation),
}


def build(family: str, config: dict) -> nn.Module:
    """Build an untrained model (or an identity perturbation) of ``family`` from its config dict."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}")
    config_cls, builder = FAMILIES[family]
    return builder(config_cls.from_dict(config))
