"""Summarize exported example models: size, inputs/outputs, ONNX op types with counts.

Usage: python examples/summarize.py [FILE_OR_DIR ...]   (default: examples/onnx examples/zoo)

Prints one markdown section per model and, at the end, the union of op types over all of
them (the ops fftc's ONNX frontend has to accept).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import onnx

EXAMPLES_DIR = Path(__file__).resolve().parent


def op_counts(model: onnx.ModelProto) -> Counter[tuple[str, str]]:
    """Count (domain, op_type) over the main graph and any subgraphs."""
    counts: Counter[tuple[str, str]] = Counter()
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            counts[(node.domain or "ai.onnx", node.op_type)] += 1
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    graphs.append(attribute.g)
                graphs.extend(attribute.graphs)
    return counts


def describe_value(value: onnx.ValueInfoProto) -> str:
    """`name: float32[1, 256, 64]` with symbolic dimensions by name."""
    tensor_type = value.type.tensor_type
    dims = [dim.dim_param or str(dim.dim_value) for dim in tensor_type.shape.dim]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name
    return f"{value.name}: {dtype}[{', '.join(dims)}]"


def model_files(paths: list[Path]) -> list[Path]:
    """The .onnx files named, or found directly under the folders named."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.onnx")) if path.is_dir() else [path])
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.paths or [EXAMPLES_DIR / "onnx", EXAMPLES_DIR / "zoo"]

    union: Counter[tuple[str, str]] = Counter()
    for path in model_files(paths):
        model = onnx.load(str(path))
        counts = op_counts(model)
        union.update(counts)
        opset = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}
        print(f"### {path.parent.name}/{path.name} ({path.stat().st_size / 1024:.1f} KiB)")
        print(f"- opsets: {opset}")
        print(f"- inputs: {', '.join(describe_value(v) for v in model.graph.input)}")
        print(f"- outputs: {', '.join(describe_value(v) for v in model.graph.output)}")
        ops = ", ".join(f"{op} {count}" for (_, op), count in sorted(counts.items()))
        print(f"- ops ({sum(counts.values())} nodes): {ops}\n")

    print("### Union of op types (domain, op: models' total count)")
    for (domain, op), count in sorted(union.items()):
        print(f"- {domain} {op}: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
