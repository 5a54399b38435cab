"""The manifest of a compiled artifact: what it computes, for what target,
built by which fftc/TVM, and the sha256 of its library."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from fftc.errors import ArtifactError

FORMAT = "fftc-artifact"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str

    def describe(self) -> str:
        return f"{self.name}: {self.dtype}[{', '.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class Manifest:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    target: dict[str, Any]
    fftc_version: str
    tvm_version: str
    library: str
    library_sha256: str
    library_size: int
    model_name: str = ""
    model_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @staticmethod
    def from_json(text: str, where: str) -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ArtifactError(f"{where}: the manifest is not valid JSON ({err})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ArtifactError(f"{where}: not an fftc artifact (manifest format missing)")
        if data.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"{where}: artifact format version {data.get('format_version')} is not "
                f"supported by this fftc (it reads version {FORMAT_VERSION})"
            )
        try:
            data["inputs"] = tuple(_spec(s) for s in data["inputs"])
            data["outputs"] = tuple(_spec(s) for s in data["outputs"])
            return Manifest(**data)
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(f"{where}: the manifest is malformed ({err})") from None


def _spec(raw: Any) -> TensorSpec:
    return TensorSpec(str(raw["name"]), tuple(int(d) for d in raw["shape"]), str(raw["dtype"]))
