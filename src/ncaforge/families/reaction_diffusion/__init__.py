"""The reaction-diffusion family (Mordvintsev, Randazzo, Fouts 2021): a per-cell reaction MLP plus fixed
isotropic diffusion, trained like a texture NCA (`nca train rd`)."""

from __future__ import annotations

from ncaforge.core.family import Family, Schedule
from ncaforge.data.textures import TextureTask
from ncaforge.families.reaction_diffusion.model import ReactionDiffusionConfig, build_reaction_diffusion
from ncaforge.families.texture import EVALUATION, texture_view
from ncaforge.families.texture.score import SCORING
from ncaforge.objectives.texture import make_objective, start_states

FAMILY = Family(
    name="reaction-diffusion",
    command="rd",
    summary="Differentiable reaction-diffusion: a per-cell reaction MLP (32 -> 128 -> 32) and isotropic "
            "diffusion per channel, on a torus",
    config=ReactionDiffusionConfig,
    build=build_reaction_diffusion,
    task=TextureTask,
    objective=make_objective,
    schedule=Schedule(iterations=2000, lr=1e-3, lr_drops=(1000,)),
    seed=start_states,
    view=texture_view,
    evaluation=EVALUATION,
    score=SCORING,
)
