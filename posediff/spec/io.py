"""Reading specs (preset name, TOML/YAML/JSON file, dict) and writing them as TOML."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

import tomli_w

from ..errors import Problem, SpecError
from .overrides import apply_overrides
from .schema import PRESET_NAME_RE


def load_spec(source: Any, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> tuple[dict, str]:
    """Read a spec from a preset name, a file path or a dict, then apply overrides.

    Args:
        source: Preset name (``"finepose-h36m"``), path to ``.toml``/``.yaml``/``.yml``/``.json``,
            or a mapping (copied, never modified).
        overrides: ``{"sampler.steps": 5}`` or ``["sampler.steps=5"]``.

    Returns:
        ``(tree, origin)``: the raw (unvalidated) tree and a label for error messages.

    Raises:
        SpecError: unreadable file, unknown preset, bad override path.
    """
    if isinstance(source, Mapping):
        tree, origin = _plain_copy(source, "spec"), "spec"
    elif isinstance(source, (str, Path)):
        text = str(source)
        if isinstance(source, Path) or "/" in text or "\\" in text or text.endswith(
            (".toml", ".yaml", ".yml", ".json")
        ):
            tree, origin = _read_file(Path(text)), Path(text).name
        elif PRESET_NAME_RE.match(text):
            from ..presets import read_preset

            tree, origin = read_preset(text), text
        else:
            raise SpecError(
                [Problem("", f"{text!r} is neither a preset name (kebab-case, e.g. 'finepose-h36m') "
                             "nor a spec file path (containing '/' or ending in .toml/.yaml/.json)")]
            )
    else:
        raise SpecError([Problem("", f"expected a preset name, a file path or a dict; got {type(source).__name__}")])
    if not isinstance(tree, dict):
        raise SpecError([Problem("", f"a spec must be a table at the top level; got {type(tree).__name__}")], origin)
    if overrides:
        tree = apply_overrides(tree, overrides, origin=origin)
    return tree, origin


def _plain_copy(obj: Any, path: str) -> Any:
    if isinstance(obj, Mapping):
        return {str(k) if not isinstance(k, str) else k: _plain_copy(v, path) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain_copy(v, path) for v in obj]
    return obj


def _read_file(path: Path) -> dict:
    if not path.exists():
        raise SpecError([Problem("", f"spec file not found: {str(path)!r}")], origin=path.name)
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as fh:
                return tomllib.load(fh)
        if suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as exc:  # pragma: no cover - pyyaml is a dependency
                raise SpecError([Problem("", "YAML specs need PyYAML: pip install pyyaml")], path.name) from exc
            data = yaml.safe_load(path.read_text())
            return data if data is not None else {}
        if suffix == ".json":
            return json.loads(path.read_text())
    except SpecError:
        raise
    except Exception as exc:  # tomllib/yaml/json parse errors
        raise SpecError([Problem("", f"cannot parse {path.name}: {type(exc).__name__}: {exc}")], path.name) from exc
    raise SpecError([Problem("", f"unknown spec file type {suffix!r}; expected .toml, .yaml, .yml or .json")], path.name)


def _without_none(value: Any, path: str) -> Any:
    """``value`` with None entries of tables dropped (TOML has no null); lone surrogates refused."""
    if isinstance(value, Mapping):
        return {str(k): _without_none(v, f"{path}.{k}" if path else str(k)) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        code = next(ord(ch) for ch in value if 0xD800 <= ord(ch) <= 0xDFFF)
        raise SpecError([Problem(path, f"cannot write {value!r} to TOML: it holds a lone surrogate (U+{code:04X})")])
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise SpecError([Problem(path, f"cannot write {type(value).__name__} to TOML")])
    return value


def dump_spec(spec: Mapping[str, Any], path: str | Path | None = None) -> str:
    """Write a spec as TOML (with ``tomli_w``); return the text and optionally save it to ``path``.

    ``None`` values are left out (TOML has no null). Reading the text back (:func:`load_spec`) gives the
    same spec.

    Raises:
        SpecError: a value TOML cannot hold (a lone surrogate, an object that is not plain data).
    """
    text = tomli_w.dumps(_without_none(spec, ""))
    if path is not None:
        Path(path).write_text(text)
    return text
