"""Pass infrastructure: a pass is a named, pure function Graph -> Graph.

Passes state ordering needs as properties: ``requires`` must have been
established by an earlier pass (or the importer), ``ensures`` is what the
pass establishes.  The pipeline runner checks both, runs the verifier after
every pass, and collects each pass's decisions for ``fftc inspect --explain``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from fftc.ir import Graph

#: properties the importer establishes
IMPORTED = frozenset({"imported"})


@dataclass(frozen=True)
class Decision:
    """One explained choice: which node, what was chosen, why."""

    pass_name: str
    node: str
    choice: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.pass_name}] {self.node}: {self.choice} ({self.reason})"


@dataclass
class PassContext:
    """Options for passes and the record of what they decided."""

    options: dict[str, Any] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    verify_each: bool = True

    def decide(self, pass_name: str, node: str, choice: str, reason: str) -> None:
        self.decisions.append(Decision(pass_name, node, choice, reason))


class Pass(Protocol):
    """What the pipeline needs of a pass (frozen dataclasses satisfy it)."""

    @property
    def name(self) -> str: ...

    @property
    def doc(self) -> str: ...

    @property
    def requires(self) -> frozenset[str]: ...

    @property
    def ensures(self) -> frozenset[str]: ...

    def run(self, graph: Graph, ctx: PassContext) -> Graph: ...
