"""Specs: load TOML/YAML/JSON/dict, apply overrides, validate against constructor signatures, dump TOML.

A spec is plain data. Its top level holds ``spec_version``, ``[meta]`` (free text), ``[lifter]``
(context and run-time settings) and one entry per slot: ``[backbone]``, ``[conditioner]``,
``[[fusion]]`` (a list of sites), ``[sampler]`` and ``[aggregator]``. A component table is
``name = "<registered name>"`` plus that component's constructor arguments; nested components
(a sampler's ``schedule``, a conditioner's ``text_encoder``) are inline tables with their own
``name``. Nothing in a spec is ever imported by dotted path: names resolve only through the registry.

:func:`resolve_spec` validates the whole tree before anything is constructed and collects every
problem into one :class:`~posediff.errors.SpecError`; the result has every default filled in, so
``resolve_spec(resolve_spec(s)) == resolve_spec(s)``.
"""
from __future__ import annotations

from .io import dump_spec, load_spec
from .overrides import apply_overrides, parse_override
from .schema import (CONTEXT_KEYS, DERIVED_CONTEXT, LIFTER_KEYS, SLOTS, SPEC_VERSION, TOP_KEYS, kind_of_annotation,
                     component_parameters)
from .validation import SpecValidator, resolve_spec

__all__ = [
    "SPEC_VERSION",
    "SLOTS",
    "CONTEXT_KEYS",
    "LIFTER_KEYS",
    "load_spec",
    "resolve_spec",
    "apply_overrides",
    "dump_spec",
    "parse_override",
    "component_parameters",
]
