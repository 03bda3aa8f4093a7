"""The texture NCA family (Niklasson, Mordvintsev, Randazzo, Levin 2021): a torus of living cells that
keeps making an exemplar's texture, trained with a sliced Wasserstein loss on multi-scale patches."""

from __future__ import annotations

from torch import nn

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.core.view import RGBView
from ncaforge.data.textures import TextureTask
from ncaforge.families.texture.evaluate import TextureEvaluation, run_evaluation
from ncaforge.families.texture.model import TextureConfig, build_texture
from ncaforge.families.texture.score import SCORING
from ncaforge.objectives.texture import make_objective, start_states

EVALUATION = Evaluation(TextureEvaluation, run_evaluation,
                        "A texture NCA: patch distance (sliced Wasserstein) to the exemplar's held-out strip "
                        "at --steps, against another exemplar and noise, up to --until, and after erasing a "
                        "quarter of the grid.")


def texture_view(model: nn.Module) -> RGBView:
    """RGB = x[:3] * rgb_scale + 0.5, as a view."""
    half = 0.5 / getattr(model.config, "rgb_scale", 1.0)
    return RGBView((0, 1, 2), -half, half)


FAMILY = Family(
    name="texture",
    summary="Texture NCA: 12 channels, [id, sobel, lap] on a torus, 96 hidden, sliced-Wasserstein patch loss",
    config=TextureConfig,
    build=build_texture,
    task=TextureTask,
    objective=make_objective,
    schedule=Schedule(iterations=2000, lr=2e-3, lr_drops=(1000,)),
    seed=start_states,
    view=texture_view,
    evaluation=EVALUATION,
    score=SCORING,
    web=True,  # the playground runs unquantised texture models (every cell alive: WebGL2's home ground)
)
