"""The muNCA family (Mordvintsev and Niklasson 2021): ultra-compact texture NCAs (68-588 parameters)
trained with a sliced Wasserstein loss on multi-scale patches, no pretrained network needed."""

from __future__ import annotations

from ncaforge.core.family import Family, Schedule
from ncaforge.data.textures import TextureTask
from ncaforge.families.munca.model import MuNCAConfig, build_munca
from ncaforge.families.texture import EVALUATION, texture_view
from ncaforge.families.texture.score import SCORING
from ncaforge.objectives.texture import make_objective, start_states

FAMILY = Family(
    name="munca",
    summary="Ultra-compact texture NCA (muNCA): one filter per channel, one layer, a torus",
    config=MuNCAConfig,
    build=build_munca,
    task=TextureTask,
    objective=make_objective,
    schedule=Schedule(iterations=1000, lr=1e-3, lr_drops=(700,)),
    seed=start_states,
    view=texture_view,
    evaluation=EVALUATION,
    score=SCORING,
)
