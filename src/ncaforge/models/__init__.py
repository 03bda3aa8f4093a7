"""Named NCA families assembled from core parts; a checkpoint names its family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ncaforge.core.nca import NCA
from ncaforge.models import classifier, growing

# family name -> (config class with to_dict/from_dict, builder)
FAMILIES: dict[str, tuple[Any, Callable[[Any], NCA]]] = {
    growing.FAMILY: (growing.GrowingConfig, growing.build_growing),
    classifier.FAMILY: (classifier.ClassifierConfig, classifier.build_classifier),
}


def build(family: str, config: dict) -> NCA:
    """Build an untrained model of ``family`` from its config dict."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}")
    config_cls, builder = FAMILIES[family]
    return builder(config_cls.from_dict(config))
