"""IR op definitions, one module per op family; see :mod:`fftc.ir.ops.registry`."""

from fftc.ir.ops.registry import OpDef, OpKind, all_ops, get_op

__all__ = ["OpDef", "OpKind", "all_ops", "get_op"]
