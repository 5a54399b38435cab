"""Shape and data-movement ops.  Shape-like inputs must be compile-time constants;
the exporters' Shape/Gather/Concat chains become constants by folding."""

from __future__ import annotations

import numpy as np

from fftc.frontend.onnx.context import (
    FOLD_LIMIT,
    NodeContext,
    nonfinite_problem,
    tensor_to_numpy,
)
from fftc.frontend.onnx.registry import converter
from fftc.ir.ops.movement import (
    AxisAttrs,
    BroadcastToAttrs,
    ConcatAttrs,
    PadAttrs,
    ReshapeAttrs,
    ScatterNDAttrs,
    SliceAttrs,
    TileAttrs,
    TransposeAttrs,
)
from fftc.ir.types import MAX_RANK

INT64_MAX = np.iinfo(np.int64).max


def reshape_to(ctx: NodeContext, x: str, shape: tuple[int, ...]) -> str:
    if ctx.shape(x) == shape:
        return x
    return ctx.emit("reshape", [x], ReshapeAttrs(shape))


def transpose(ctx: NodeContext, x: str, perm: tuple[int, ...]) -> str:
    if perm == tuple(range(len(perm))):
        return x
    return ctx.emit("transpose", [x], TransposeAttrs(perm))


def slice_axis(ctx: NodeContext, x: str, axis: int, start: int, end: int, step: int = 1) -> str:
    """Slice one axis with already normalised bounds."""
    shape = ctx.shape(x)
    starts = [0] * len(shape)
    ends = list(shape)
    steps = [1] * len(shape)
    starts[axis], ends[axis], steps[axis] = start, end, step
    return ctx.emit("slice", [x], SliceAttrs(tuple(starts), tuple(ends), tuple(steps)))


@converter("Reshape")
def reshape(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    src = ctx.shape(x)
    target = ctx.ints(1, "the target shape")
    allowzero = ctx.attr("allowzero", 0)
    if not allowzero and any(d == 0 and i >= len(src) for i, d in enumerate(target)):
        ctx.fail(f"target shape {target} copies a dim (0) the input of rank {len(src)} lacks")
    if any(d < -1 for d in target):
        ctx.fail(f"target shape {target} has a negative dim")
    dims = [src[i] if (d == 0 and not allowzero) else d for i, d in enumerate(target)]
    if dims.count(-1) > 1:
        ctx.fail(f"target shape {target} has more than one -1")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1]))
        total = int(np.prod(src))
        if known == 0 or total % known:
            ctx.fail(f"cannot reshape {list(src)} to {target}")
        dims[dims.index(-1)] = total // known
    return [reshape_to(ctx, x, tuple(dims))]


@converter("Flatten")
def flatten(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    shape = ctx.shape(x)
    axis = int(ctx.attr("axis", 1))
    if not -len(shape) <= axis <= len(shape):
        ctx.fail(f"axis {axis} is out of range for rank {len(shape)}")
    axis = axis + len(shape) if axis < 0 else axis
    outer = int(np.prod(shape[:axis]))
    return [reshape_to(ctx, x, (outer, int(np.prod(shape[axis:]))))]


def _axes(ctx: NodeContext, index: int, attr: str, rank: int) -> list[int] | None:
    if ctx.has_input(index):
        values = ctx.ints(index, "axes")
    else:
        found = ctx.attr_ints(attr)
        if found is None:
            return None
        values = found
    return [ctx.axis(a, rank) for a in values]


@converter("Squeeze")
def squeeze(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    shape = ctx.shape(x)
    axes = _axes(ctx, 1, "axes", len(shape))
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    if any(shape[a] != 1 for a in axes):
        ctx.fail(f"cannot squeeze axes {axes} of shape {list(shape)}")
    return [reshape_to(ctx, x, tuple(d for i, d in enumerate(shape) if i not in axes))]


@converter("Unsqueeze")
def unsqueeze(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    shape = list(ctx.shape(x))
    raw = ctx.ints(1, "axes") if ctx.has_input(1) else ctx.attr_ints("axes")
    if raw is None:
        return ctx.fail("axes are required")
    out_rank = len(shape) + len(raw)
    if out_rank > MAX_RANK:
        return ctx.fail(f"{len(raw)} axes would give rank {out_rank} (at most {MAX_RANK})")
    axes = sorted(ctx.axis(a, out_rank) for a in raw)
    if len(set(axes)) != len(axes):
        return ctx.fail(f"axes {raw} repeat an axis")
    for a in axes:
        shape.insert(a, 1)
    return [reshape_to(ctx, x, tuple(shape))]


@converter("Transpose")
def transpose_(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    rank = len(ctx.shape(x))
    perm = ctx.attr_ints("perm", list(reversed(range(rank)))) or []
    return [transpose(ctx, x, tuple(ctx.axis(p, rank) for p in perm))]


def normalize_slice(dim: int, start: int, end: int, step: int) -> tuple[int, int]:
    """ONNX Slice bound clamping for one axis."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        return min(max(start, 0), dim), min(max(end, 0), dim)
    return min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)


@converter("Slice")
def slice_(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    shape = ctx.shape(x)
    starts_in, ends_in = ctx.ints(1, "starts"), ctx.ints(2, "ends")
    axes = ctx.ints(3, "axes") if ctx.has_input(3) else list(range(len(starts_in)))
    steps_in = ctx.ints(4, "steps") if ctx.has_input(4) else [1] * len(starts_in)
    if not len(starts_in) == len(ends_in) == len(axes) == len(steps_in):
        ctx.fail("starts, ends, axes and steps must have the same length")
    starts, ends, steps = [0] * len(shape), list(shape), [1] * len(shape)
    for s, e, a, st in zip(starts_in, ends_in, axes, steps_in, strict=True):
        ax = ctx.axis(a, len(shape))
        if st == 0:
            ctx.fail("slice steps must not be 0")
        starts[ax], ends[ax] = normalize_slice(shape[ax], s, e, st)
        steps[ax] = st
    if steps == [1] * len(shape) and starts == [0] * len(shape) and ends == list(shape):
        return [x]
    return [ctx.emit("slice", [x], SliceAttrs(tuple(starts), tuple(ends), tuple(steps)))]


@converter("Pad")
def pad(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    rank = len(ctx.shape(x))
    raw = ctx.ints(1, "pads")
    axes = ctx.ints(3, "axes") if ctx.has_input(3) else list(range(rank))
    axes = [ctx.axis(a, rank) for a in axes]
    if len(raw) != 2 * len(axes):
        ctx.fail(f"pads must have {2 * len(axes)} values, got {len(raw)}")
    pads = [0] * (2 * rank)
    for i, a in enumerate(axes):
        pads[a], pads[rank + a] = raw[i], raw[len(axes) + i]
    value = 0.0
    if ctx.has_input(2):
        value = float(ctx.require_const(2, "constant_value").reshape(-1)[0])
    mode = ctx.attr("mode", "constant")
    if any(p < 0 for p in pads):  # negative pads crop
        shape = ctx.shape(x)
        starts = tuple(max(-pads[i], 0) for i in range(rank))
        ends = tuple(shape[i] - max(-pads[rank + i], 0) for i in range(rank))
        x = ctx.emit("slice", [x], SliceAttrs(starts, ends, (1,) * rank))
        pads = [max(p, 0) for p in pads]
    if not any(pads):
        return [x]
    return [ctx.emit("pad", [x], PadAttrs(tuple(pads), mode, value))]


@converter("Concat")
def concat(ctx: NodeContext) -> list[str | None]:
    args = ctx.inputs()
    rank = len(ctx.shape(args[0]))
    args = [a for a in args if ctx.type(a).size > 0] or args[:1]
    if len(args) == 1:
        return [args[0]]
    return [ctx.emit("concat", args, ConcatAttrs(ctx.axis(ctx.required("axis", int), rank)))]


@converter("Split")
def split(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    shape = ctx.shape(x)
    axis = ctx.axis(int(ctx.attr("axis", 0)), len(shape))
    n_out = len(ctx.node.output)
    if ctx.has_input(1):
        sizes = ctx.ints(1, "split")
    elif ctx.attr("num_outputs", 0):
        chunk = -(-shape[axis] // ctx.attr("num_outputs", 0))
        sizes = [min(chunk, shape[axis] - i * chunk) for i in range(n_out)]
    else:
        if shape[axis] % n_out:
            ctx.fail(f"axis of size {shape[axis]} does not split into {n_out} equal parts")
        sizes = [shape[axis] // n_out] * n_out
    if sum(sizes) != shape[axis] or len(sizes) != n_out:
        ctx.fail(f"split sizes {sizes} do not cover an axis of {shape[axis]} in {n_out} parts")
    outs: list[str | None] = []
    begin = 0
    for size in sizes:
        outs.append(slice_axis(ctx, x, axis, begin, begin + size))
        begin += size
    return outs


def _norm_indices(ctx: NodeContext, name: str, dim: int) -> str:
    data = ctx.const(name)
    if data is None:
        return name
    if data.size and (data.min() < -dim or data.max() >= dim):
        ctx.fail(f"indices out of range for a dim of {dim}")
    return ctx.constant(np.where(data < 0, data + dim, data).astype(np.int64))


@converter("Gather")
def gather(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", 0)), len(ctx.shape(x)))
    idx = _norm_indices(ctx, ctx.input(1), ctx.shape(x)[axis])
    return [ctx.emit("gather", [x, idx], AxisAttrs(axis))]


@converter("GatherElements")
def gather_elements(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", 0)), len(ctx.shape(x)))
    idx = _norm_indices(ctx, ctx.input(1), ctx.shape(x)[axis])
    return [ctx.emit("gather_elements", [x, idx], AxisAttrs(axis))]


@converter("ScatterND")
def scatter_nd(ctx: NodeContext) -> list[str | None]:
    x, idx, upd = ctx.input(0), ctx.input(1), ctx.input(2)
    data = ctx.const(idx)
    if data is not None:
        dims = np.asarray(ctx.shape(x)[: data.shape[-1]])
        if data.size and ((data < -dims).any() or (data >= dims).any()):
            ctx.fail("ScatterND indices out of range")
        idx = ctx.constant(np.where(data < 0, data + dims, data).astype(np.int64))
    reduction = ctx.attr("reduction", "none")
    return [ctx.emit("scatter_nd", [x, idx, upd], ScatterNDAttrs(reduction))]


@converter("Expand")
def expand(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    target = ctx.ints(1, "shape")
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(ctx.shape(x), tuple(target)))
    except ValueError:
        return ctx.fail(f"cannot expand {list(ctx.shape(x))} to {target}")
    if shape == ctx.shape(x):
        return [x]
    return [ctx.emit("broadcast_to", [x], BroadcastToAttrs(shape))]


@converter("Tile")
def tile(ctx: NodeContext) -> list[str | None]:
    repeats = tuple(ctx.ints(1, "repeats"))
    return [ctx.emit("tile", [ctx.input(0)], TileAttrs(repeats))]


@converter("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: NodeContext) -> list[str | None]:
    x = ctx.input(0)
    n, c, h, w = ctx.shape(x)
    bs = ctx.required("blocksize", int)
    if bs < 1:
        ctx.fail(f"blocksize must be >= 1, got {bs}")
    if ctx.node.op_type == "SpaceToDepth":
        if h % bs or w % bs:
            ctx.fail(f"blocksize {bs} does not divide {h}x{w}")
        y = reshape_to(ctx, x, (n, c, h // bs, bs, w // bs, bs))
        crd = ctx.attr("mode", "DCR") == "CRD"
        y = transpose(ctx, y, (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4))
        return [reshape_to(ctx, y, (n, c * bs * bs, h // bs, w // bs))]
    if c % (bs * bs):
        ctx.fail(f"blocksize {bs} does not divide {c} channels")
    co = c // (bs * bs)
    if ctx.attr("mode", "DCR") == "DCR":
        y = reshape_to(ctx, x, (n, bs, bs, co, h, w))
        y = transpose(ctx, y, (0, 3, 4, 1, 5, 2))
    else:
        y = reshape_to(ctx, x, (n, co, bs, bs, h, w))
        y = transpose(ctx, y, (0, 1, 4, 2, 5, 3))
    return [reshape_to(ctx, y, (n, co, h * bs, w * bs))]


@converter("Shape")
def shape(ctx: NodeContext) -> list[str | None]:
    dims = ctx.shape(ctx.input(0))
    rank = len(dims)
    start = ctx.attr("start", 0)
    end = ctx.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return [ctx.constant(np.asarray(dims[start:end], dtype=np.int64))]


@converter("Size")
def size(ctx: NodeContext) -> list[str | None]:
    return [ctx.constant(np.asarray(ctx.type(ctx.input(0)).size, dtype=np.int64))]


@converter("ConstantOfShape")
def constant_of_shape(ctx: NodeContext) -> list[str | None]:
    """A constant when small; a broadcast of the scalar otherwise (nothing allocated here)."""
    dims = ctx.ints(0, "shape")
    if any(d < 0 for d in dims):
        ctx.fail(f"shape {dims} has a negative dim")
    value = ctx.attrs.get("value")
    fill = tensor_to_numpy(value, "value") if value is not None else np.zeros(1, np.float32)
    scalar = fill.reshape(-1)[:1].reshape(())
    if int(np.prod(dims, dtype=np.float64)) <= FOLD_LIMIT:
        return [ctx.constant(np.full(dims, scalar, dtype=fill.dtype))]
    return [ctx.emit("broadcast_to", [ctx.constant(scalar)], BroadcastToAttrs(tuple(dims)))]


@converter("Range")
def range_(ctx: NodeContext) -> list[str | None]:
    start = ctx.require_const(0, "start")
    limit = ctx.require_const(1, "limit")
    delta = ctx.require_const(2, "delta")
    if delta == 0:
        ctx.fail("delta must not be 0")
    count = max(int(np.ceil((limit - start) / delta)), 0)
    if count > FOLD_LIMIT:
        ctx.fail(f"Range of {count} elements is too large to compute at compile time")
    values = start + delta * np.arange(
        count, dtype=np.float64 if start.dtype.kind == "f" else np.int64
    )
    return [ctx.constant(values.astype(start.dtype))]


@converter("Constant")
def constant(ctx: NodeContext) -> list[str | None]:
    a = ctx.attrs
    if "value" in a:
        data = tensor_to_numpy(a["value"], "Constant value")
    elif "value_float" in a:
        data = np.asarray(a["value_float"], dtype=np.float32)
    elif "value_floats" in a:
        data = np.asarray(a["value_floats"], dtype=np.float32)
    elif "value_int" in a:
        data = np.asarray(a["value_int"], dtype=np.int64)
    elif "value_ints" in a:
        data = np.asarray(a["value_ints"], dtype=np.int64)
    else:
        return ctx.fail(f"Constant with attributes {sorted(a)} is not supported")
    # weights (initializers) may hold no NaN/Inf; Constant nodes no NaN (-inf masks are fine)
    problem = None if ctx.ctx.allow_nonfinite else nonfinite_problem("the constant", data, True)
    if problem:
        ctx.fail(problem)
    return [ctx.constant(data)]
