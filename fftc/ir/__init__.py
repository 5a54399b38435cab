"""fftc's IR: typed, immutable graphs with a verifier and a text form."""

from fftc.ir.builder import GraphBuilder
from fftc.ir.graph import Attrs, Constant, Graph, IRError, NoAttrs, Node, Value
from fftc.ir.interpreter import evaluate
from fftc.ir.parser import parse_graph
from fftc.ir.printer import print_graph
from fftc.ir.types import DType, TensorType
from fftc.ir.verifier import verify

__all__ = [
    "Attrs",
    "Constant",
    "DType",
    "Graph",
    "GraphBuilder",
    "IRError",
    "NoAttrs",
    "Node",
    "TensorType",
    "Value",
    "evaluate",
    "parse_graph",
    "print_graph",
    "verify",
]
