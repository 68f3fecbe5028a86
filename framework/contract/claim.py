"""The claim contract: one statement of the paper, as a report tests it against a run store.

A diagnostic declares the variables it writes (``framework.contract.diagnostic``); a claim
declares, up front, which of them it reads and what it makes of them: the paper's statement
and reference, the store variables and grid axes it needs, the figure it draws into, and the
three steps the report runs for it — ``fit`` (the numbers measured from the store), ``draw``
(its panels of the figure) and ``verdict`` (consistent or not, by a stated rule). It may also
name ``columns`` for ``overparam show``. Claims are registered by plugins through the hook
``overparam_register_claims`` and kept beside the diagnostics that define their variables, so
the report itself knows no variable by name (docs/plugins.md, "Report claims").

A claim sees the store through ``StoreView`` (``framework.contract.store_view``), draws on
matplotlib ``Axes`` and returns an ``Assessment`` (``framework.contract.verdicts``): the contract's
own types, so a type checker follows a plugin's claim from end to end. ``Claim`` is generic in
the type of its fit, ``Claim[Fit]``: ``fit`` returns a ``Fit`` (a frozen dataclass with named
fields, for the built-in claims) and every later step is given that same ``Fit``, so a claim that
reads a field its fit does not have, or hands ``verdict`` something else, is a type error rather
than a report that fails halfway.
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Self, TypeVar

if TYPE_CHECKING:  # for type checkers only: planning loads claims without importing xarray or matplotlib
    from matplotlib.axes import Axes

    from framework.contract.store_view import StoreView
    from framework.contract.verdicts import Assessment

Reduction = Literal["final", "min", "max", "relative"]
REDUCTIONS: tuple[str, ...] = ("final", "min", "max", "relative")
LAST = 1000.0  # the place of a claim that gives none: after the paper's own claims
DECLARED_TEXT = ("name", "title", "paper_ref", "statement", "figure")
DECLARED_NAMES = ("needs", "needs_one_of", "uses", "axes")

FitT = TypeVar("FitT")
"""What a claim's ``fit`` measures, the one object its ``draw``, ``numbers``, ``notes`` and ``verdict`` read."""


@dataclass(frozen=True)
class Column:
    """One column of ``overparam show``: a store variable as one number per grid point.

    ``reduce`` says how its training trajectory becomes one number: ``final`` (the last logged
    value; a variable without a ``step`` axis as it is), ``min`` or ``max`` over the logged
    steps, ``relative`` (the last value over the first, as f_T/f_0). A column is shown when
    the store holds the variable and the result has no axis besides the grid's.
    """

    header: str
    variable: str
    reduce: Reduction = "final"

    def __post_init__(self) -> None:
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"column {self.header!r}: reduce {self.reduce!r} is not one of {', '.join(REDUCTIONS)}")


class Claim(ABC, Generic[FitT]):
    """One claim of the paper: what it says, what it reads, how it is drawn, fitted and judged.

    Declared on the class:

    - ``name``: a lowercase identifier, unique among claims (``overparam plugins`` lists it);
    - ``title``, ``paper_ref``, ``statement``: the section heading, the equation or theorem
      (``"(5.1)"``, ``"Theorem 3"``) and the paper's statement in words;
    - ``needs``: the store variables it reads, all required; ``needs_one_of``: variables of
      which one is enough; ``uses``: variables it draws when the store has them;
    - ``axes``: the grid axes it needs, each with two values or more (``("m",)``);
    - ``figure``: the file stem of its figure (``dprime`` -> ``dprime.png``, ``dprime.svg``),
      and ``figure_title``. Claims naming one figure share it, each drawing its own panels in
      report order; the first one's title is the figure's;
    - ``order``: its place in the report (the paper's order for the built-ins; a claim that
      gives none comes after them);
    - ``columns``: what ``overparam show`` tabulates for it.

    The report makes one instance per registered class (no arguments), skips it with the
    reason ``missing`` gives, and otherwise calls ``fit``, ``panel_count``, ``draw``,
    ``numbers``, ``notes`` and ``verdict`` on each of its ``instances``. A subclass names the
    type of its fit, ``class MyClaim(Claim[MyFit])``; the type parameter changes nothing at run
    time.
    """

    kind: ClassVar[str] = "claim"
    name: ClassVar[str]
    title: str
    paper_ref: str
    statement: str
    needs: tuple[str, ...] = ()
    needs_one_of: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    axes: tuple[str, ...] = ()
    figure: str
    figure_title: str = ""
    order: float = LAST
    columns: ClassVar[tuple[Column, ...]] = ()

    @classmethod
    def description(cls) -> str:
        """The line ``overparam plugins`` shows: the title and the paper's reference."""
        return f"{cls.title} ({cls.paper_ref})"

    @classmethod
    def declaration_problems(cls) -> list[str]:
        """What the class leaves undeclared or declares wrongly, one sentence each (empty: none).

        The registry refuses a claim with problems, naming its plugin, rather than let a report
        fail halfway through it."""
        problems = [f"`{field}` is not declared as a string" for field in DECLARED_TEXT
                    if not isinstance(getattr(cls, field, None), str) or not getattr(cls, field)]
        for field in DECLARED_NAMES:
            value = getattr(cls, field, None)
            if not (isinstance(value, tuple) and all(isinstance(item, str) for item in value)):
                problems.append(f"`{field}` is not a tuple of variable or axis names")
        if not (isinstance(cls.columns, tuple) and all(isinstance(column, Column) for column in cls.columns)):
            problems.append("`columns` is not a tuple of overparam.Column")
        if getattr(cls, "__abstractmethods__", None):
            problems.append("does not define " + ", ".join(sorted(cls.__abstractmethods__)))
        return problems

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """Every store variable the claim may read: needed, one of, or used when present."""
        return tuple(dict.fromkeys((*cls.needs, *cls.needs_one_of, *cls.uses)))

    def missing(self, view: StoreView) -> str | None:
        """Why the store cannot test this claim (an axis or a variable it lacks), or None."""
        for axis in self.axes:
            if axis not in view.scanned or view.ds.sizes[axis] < 2:
                return f"the grid has no `{axis}` axis with two or more values"
        absent = [name for name in self.needs if not view.has(name)]
        if absent:
            return "the store has no values of " + ", ".join(f"`{name}`" for name in absent)
        if self.needs_one_of and not any(view.has(name) for name in self.needs_one_of):
            return "the store has no values of " + " or ".join(f"`{name}`" for name in self.needs_one_of)
        return None

    def instances(self, view: StoreView) -> list[Self]:
        """The claims this one stands for in this store: itself, or (for a statement made for
        every grid axis) one copy per axis, made with ``along``."""
        return [self]

    def along(self, **attributes: Any) -> Self:
        """A copy of this claim with some declarations replaced (``figure="speed_L"``, ...)."""
        instance = copy.copy(self)
        for key, value in attributes.items():
            setattr(instance, key, value)
        return instance

    @abstractmethod
    def fit(self, view: StoreView) -> FitT:
        """What the claim measures from the store (fitted series, the worst values, ...): the
        one object ``draw``, ``numbers``, ``notes`` and ``verdict`` are given."""

    def panel_count(self, view: StoreView, fitted: FitT) -> int:
        """How many panels of its figure the claim draws: one by default."""
        return 1

    @abstractmethod
    def draw(self, axes: list[Axes], view: StoreView, fitted: FitT) -> None:
        """Draw into its ``panel_count`` panels (the figure is made, titled and saved by the report)."""

    @abstractmethod
    def verdict(self, view: StoreView, fitted: FitT) -> Assessment:
        """Judge the fitted numbers against the paper's bound (``overparam.Assessment``)."""

    def numbers(self, view: StoreView, fitted: FitT) -> list[str]:
        """The measured numbers, one line each, for the report's text: none by default."""
        return []

    def notes(self, view: StoreView, fitted: FitT) -> list[str]:
        """Remarks on what was left out or how to read the figure: none by default."""
        return []
