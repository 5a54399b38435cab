"""Value types of fftc's IR: element dtypes and statically shaped tensor types."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class IRError(Exception):
    """A malformed graph or type (raised by the verifier, the parser and shape rules)."""


class DType(StrEnum):
    """Element types. The value is TVM's/NumPy's name; ``short`` is the IR text form."""

    float16 = "float16"
    bfloat16 = "bfloat16"
    float32 = "float32"
    float64 = "float64"
    int8 = "int8"
    int16 = "int16"
    int32 = "int32"
    int64 = "int64"
    uint8 = "uint8"
    uint16 = "uint16"
    uint32 = "uint32"
    uint64 = "uint64"
    bool = "bool"

    @property
    def short(self) -> str:
        return _SHORT[self]

    @property
    def is_float(self) -> builtins.bool:
        return self in (DType.float16, DType.bfloat16, DType.float32, DType.float64)

    @property
    def is_int(self) -> builtins.bool:
        return self in (
            DType.int8, DType.int16, DType.int32, DType.int64,
            DType.uint8, DType.uint16, DType.uint32, DType.uint64,
        )  # fmt: skip

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE[self]

    def numpy(self) -> np.dtype:
        """The NumPy dtype (bfloat16 needs ml_dtypes, which TVM installs)."""
        if self is DType.bfloat16:
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(self.value)

    @staticmethod
    def from_numpy(dtype: np.dtype | type) -> DType:
        name = np.dtype(dtype).name
        if name not in DType.__members__:
            raise IRError(f"unsupported element type {name!r}")
        return DType(name)

    @staticmethod
    def parse(text: str) -> DType:
        """Accepts the short IR form (``f32``) or the long name (``float32``)."""
        if text in _FROM_SHORT:
            return _FROM_SHORT[text]
        if text in DType.__members__:
            return DType(text)
        raise IRError(f"unknown dtype {text!r}")


_SHORT = {
    DType.float16: "f16",
    DType.bfloat16: "bf16",
    DType.float32: "f32",
    DType.float64: "f64",
    DType.int8: "i8",
    DType.int16: "i16",
    DType.int32: "i32",
    DType.int64: "i64",
    DType.uint8: "u8",
    DType.uint16: "u16",
    DType.uint32: "u32",
    DType.uint64: "u64",
    DType.bool: "bool",
}
_FROM_SHORT = {v: k for k, v in _SHORT.items()}
_ITEMSIZE = {
    DType.float16: 2,
    DType.bfloat16: 2,
    DType.float32: 4,
    DType.float64: 8,
    DType.int8: 1,
    DType.int16: 2,
    DType.int32: 4,
    DType.int64: 8,
    DType.uint8: 1,
    DType.uint16: 2,
    DType.uint32: 4,
    DType.uint64: 8,
    DType.bool: 1,
}


#: the highest tensor rank (NumPy's limit; ONNX models stay far below it)
MAX_RANK = 32


@dataclass(frozen=True)
class TensorType:
    """A tensor with a static shape (every dim a non-negative int) and a dtype."""

    shape: tuple[int, ...]
    dtype: DType

    def __post_init__(self) -> None:
        if len(self.shape) > MAX_RANK:
            raise IRError(f"tensor rank {len(self.shape)} is over the limit of {MAX_RANK}")
        for d in self.shape:
            if not isinstance(d, int) or isinstance(d, bool) or d < 0:
                raise IRError(f"tensor dims must be non-negative ints, got {list(self.shape)}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def with_shape(self, shape: tuple[int, ...]) -> TensorType:
        return TensorType(tuple(shape), self.dtype)

    def with_dtype(self, dtype: DType) -> TensorType:
        return TensorType(self.shape, dtype)

    def __str__(self) -> str:
        return f"{self.dtype.short}[{', '.join(str(d) for d in self.shape)}]"
