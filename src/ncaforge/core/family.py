"""The family registry: each kind of model says once what it is and what it can do.

A family is one folder under ``ncaforge/families`` (or a module of another package)
that builds a :class:`Family` and names it in the entry point group
``ncaforge.families``; the built-in families are found the same way. Checkpoints,
commands, rendering and the web export ask the registry instead of naming families.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from importlib.metadata import entry_points
from typing import Any

from torch import nn

from ncaforge.core.config import Config
from ncaforge.core.errors import NcaError
from ncaforge.core.view import View

ENTRY_POINT_GROUP = "ncaforge.families"


class FamilyError(NcaError, ValueError):
    """An unknown family, task kind or capability."""


@dataclass(frozen=True)
class Schedule:
    """A family's default optimisation schedule (the original article's, where there is one)."""

    iterations: int
    lr: float
    lr_drops: tuple[int, ...] = ()
    optimizer: str = "adam"


@dataclass(frozen=True)
class Evaluation:
    """``nca eval COMMAND``: ``options`` is a dataclass of the command's options (each field an option;
    ``--json`` is added for all), ``run(model, task, options, progress)`` returns a :class:`Report`."""

    options: type
    run: Callable[..., Report]
    summary: str = ""


@dataclass
class Report:
    """What an evaluation found: ``figures`` (JSON-able, written by ``--json``), the scalar figures
    ``shown`` on the terminal, free ``text`` after them, and the ``files`` it wrote (plots)."""

    figures: dict[str, Any]
    shown: dict[str, float] = field(default_factory=dict)
    text: str = ""
    files: list[Any] = field(default_factory=list)


@dataclass
class Preview:
    """Where an attack's preview starts: states ``x``, adversary ``mask`` (or None), and how many steps
    it runs attacked, then lifted."""

    x: Any
    mask: Any
    attack_steps: int
    lifted_steps: int


@dataclass(frozen=True)
class Attacks:
    """How a family's models are attacked (adversarial reprogramming of a frozen host).

    - ``schedule``: defaults of `nca attack inject` against this family;
    - ``objective(host, task, group, grad_checkpoint, seed)``: the objective that trains the attack that
      ``task`` (an AttackTask) names, on this process's share;
    - ``preview(host, task, seed)``: a :class:`Preview` of the trained attack acting, then lifted;
    - ``evaluate_injection(host, adversary, options)`` / ``evaluate_perturbation(host, perturbation,
      options)``: `nca eval attack inject|perturb` (``options`` holds those commands' options);
      ``evaluate_perturbation`` None: global perturbations are not trained against this family;
    - ``region(host)``: the (H, W) bool cells where adversaries go with ``--region target`` (the host's
      own shape), or None for anywhere.
    """

    schedule: Schedule
    objective: Callable[..., Any]
    preview: Callable[..., Preview]
    evaluate_injection: Callable[..., Report]
    evaluate_perturbation: Callable[..., Report] | None = None
    region: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Scoring:
    """How a family's output is scored, so that the same code attacks and defends any of its models
    (`nca robustness`, hardening).

    - ``name``: what the error is, for tables (e.g. "RGBA MSE");
    - ``ready(model, batch, generator)`` -> (states, reference): where attacks start (a grown pattern,
      digits that have classified themselves) and what each sample should show (batch first);
    - ``error(model, x, reference)`` -> (B,): the family's own error of each sample, in [0, 1], lower is
      better (the suite scores a sample whose states blew up 1);
    - ``surrogate``: a differentiable stand-in for ``error`` that trained attacks maximise (None: the
      error itself is differentiable);
    - ``refusal(model)``: why one of the family's models cannot be scored (a short phrase), or None
      (None: all can).
    """

    name: str
    ready: Callable[..., Any]
    error: Callable[..., Any]
    surrogate: Callable[..., Any] | None = None
    refusal: Callable[..., str | None] | None = None

    def refuses(self, model: Any) -> str | None:
        """Why ``model`` cannot be scored, or None."""
        return self.refusal(model) if self.refusal is not None else None


@dataclass(frozen=True)
class Family:
    """Everything the toolkit needs to know about one kind of model.

    - ``config`` / ``build``: the model's hyperparameters (a :class:`Config` dataclass, stored in
      a checkpoint's ``config``) and the function that builds an untrained model from them;
    - ``task``: a :class:`Config` dataclass of what a model is trained to do (target, grid, data,
      batch recipe), stored in the checkpoint's ``task`` section by whoever trains;
    - ``objective(model, task, setup)``: the training objective (``setup`` has the process
      group and the gradient-checkpoint block size);
    - ``schedule``: default iterations and learning rate for ``nca train``;
    - ``seed(model, task, batch, (H, W))``: initial states for ``nca grow`` (None: cannot grow);
    - ``start(model, batch, seed)``: initial states of a long run (a health check) for families that
      start from data (digits, an initial condition); None: ``seed`` on the task's grid;
    - ``view(model)``: how a state becomes a picture, as data (the browser draws the same);
      ``picture(model, x)`` may replace it in Python;
    - ``evaluation``: the ``nca eval`` command; ``web``: whether the playground can run it;
    - ``attack``: how the family is attacked (an object with the attack hooks), or None;
    - ``score``: how its output is scored (a :class:`Scoring`), which makes its models subjects of the
      attack suite; None: they are not;
    - ``default_model``: the zoo model commands use when ``--model`` is left out.
    """

    name: str
    config: type[Config]
    build: Callable[[Any], nn.Module]
    summary: str = ""
    task: type[Config] | None = None
    command: str | None = None  # the name of its `nca train` / `nca eval` command [name]
    objective: Callable[..., Any] | None = None
    schedule: Schedule = Schedule(1000, 1e-3)
    seed: Callable[..., Any] | None = None
    start: Callable[..., Any] | None = None
    view: Callable[[nn.Module], View] | None = None
    picture: Callable[..., Any] | None = None
    evaluation: Evaluation | None = None
    web: bool = False
    attack: Attacks | None = None
    score: Scoring | None = None
    default_model: str | None = None

    @property
    def cli_name(self) -> str:
        return self.command or self.name


_FAMILIES: dict[str, Family] = {}
_TASKS: dict[str, type[Config]] = {}
_discovered = False


def register(family: Family) -> Family:
    """Add ``family`` to the registry (and its task class under the family's name)."""
    _FAMILIES[family.name] = family
    if family.task is not None:
        register_task(family.name, family.task)
    return family


def register_task(kind: str, task: type[Config]) -> None:
    """Make task sections of kind ``kind`` readable from checkpoints."""
    _TASKS[kind] = task


def discover() -> None:
    """Load every family named in the ``ncaforge.families`` entry point group (once)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found = ep.load()
        if not isinstance(found, Family):
            raise FamilyError(f"entry point {ep.name!r} ({ep.value}) of {ENTRY_POINT_GROUP} is not a Family")
        register(found)
    if not _FAMILIES:
        raise FamilyError(f"no model families found in the entry point group {ENTRY_POINT_GROUP!r}: "
                          "is ncaforge installed (pip install -e .)?")


def families() -> dict[str, Family]:
    """Every registered family by name."""
    discover()
    return dict(_FAMILIES)


def get(name: str) -> Family:
    """The family called ``name``."""
    found = families()
    if name not in found:
        raise FamilyError(f"unknown model family {name!r}; known: {', '.join(sorted(found))}")
    return found[name]


def task_class(kind: str) -> type[Config]:
    """The task dataclass stored under ``kind`` in checkpoints."""
    discover()
    if kind not in _TASKS:
        raise FamilyError(f"unknown task kind {kind!r}; known: {', '.join(sorted(_TASKS))}")
    return _TASKS[kind]


def task_kind(task: Config) -> str:
    """The kind under which ``task`` is stored: its class's ``KIND`` where it declares one (a task class
    shared by several families), else the name its class was registered with."""
    discover()
    declared = getattr(type(task), "KIND", None)
    if declared is not None and _TASKS.get(declared) is type(task):
        return declared
    for kind, cls in _TASKS.items():
        if type(task) is cls:
            return kind
    raise FamilyError(f"{type(task).__name__} is not a registered task class")


def family_of(module: nn.Module) -> Family:
    """The family whose config built ``module`` (``module.config``)."""
    config = getattr(module, "config", None)
    for family in families().values():
        if type(config) is family.config:
            return family
    raise FamilyError(f"{type(module).__name__} has no config of a registered family "
                      f"(got {type(config).__name__}); build models with ncaforge.build")


def build(name: str, config: Config | dict | None = None) -> nn.Module:
    """An untrained model of family ``name`` from its config (a dataclass, a dict, or the defaults)."""
    family = get(name)
    if config is None:
        config = family.config()
    elif isinstance(config, dict):
        config = family.config.from_dict(config)
    elif not isinstance(config, family.config):
        raise FamilyError(f"family {name!r} takes a {family.config.__name__}, got {type(config).__name__}")
    return family.build(config)


def with_capability(capability: str) -> list[Family]:
    """The families that have ``capability`` (an attribute of Family that is set)."""
    names = {f.name for f in fields(Family)}
    if capability not in names:
        raise FamilyError(f"no capability {capability!r}")
    return [f for f in families().values() if getattr(f, capability)]


def load_models(options: Any, load: Callable[[str, str], nn.Module]) -> Any:
    """``options`` (an evaluation's options) with each field whose metadata names a family
    (``metadata["model"]``, e.g. a judge) loaded by ``load(spec, family)`` where it is still a name."""
    for f in fields(options):
        value = getattr(options, f.name)
        if f.metadata.get("model") and isinstance(value, str):
            setattr(options, f.name, load(value, f.metadata["model"]))
    return options


def recorded(module: nn.Module, name: str, flag: str) -> Any:
    """The task's ``name`` for ``module``, or an error naming the ``flag`` that supplies it instead."""
    task = getattr(module, "task", None)
    value = getattr(task, name, None) if task is not None else None
    if value is None:
        what = "has no task section" if task is None else f"records no {name}"
        raise FamilyError(f"this checkpoint {what} (it was not trained by ncaforge's trainer, or by an "
                          f"older version): pass {flag}")
    return value
