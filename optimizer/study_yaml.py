"""Reads a study file's YAML: PyYAML's safe loader, refusing repeated keys and bombs.

The safe loader keeps the last of two equal keys silently (``seed: 7`` then ``seed: 8``
would run seed 8), and it copies merged mappings into each mapping that merges them, so
ten lines that each merge the line above twice make a mapping of 2^10 times the first
one's keys (a "merge bomb": minutes and gigabytes from a few hundred bytes). This
loader refuses both, and imports nothing but PyYAML, so that the command line can read a
study file before its heavy imports (:mod:`optimizer.prestart`).
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_MAPPING_KEYS", "load_yaml"]

#: The most key/value pairs one mapping may hold once its merge keys are expanded.
MAX_MAPPING_KEYS = 10_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StudyLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the checks of the module docstring."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        #: The mapping nodes checked for repeated keys already. Building a mapping
        #: expands its merge keys in place (the merged keys first, then its own), so a
        #: mapping merged again later must not be checked a second time.
        self.checked: set[int] = set()


def _check_unique_keys(loader: _StudyLoader, node: yaml.MappingNode) -> None:
    """Raises a ConstructorError for a key written twice in ``node`` or in a mapping it
    merges. A key that ``node`` writes over a merged one (``{<<: *d, seed: 8}``) is the
    merge key's purpose, not a duplicate."""
    if id(node) in loader.checked:
        return
    loader.checked.add(id(node))
    seen: set[Any] = set()
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for mapping in merged:
                if isinstance(mapping, yaml.MappingNode):  # anything else: the loader says so
                    _check_unique_keys(loader, mapping)
            continue
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: the safe loader's own error says so below
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)


def _mapping(loader: _StudyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    _check_unique_keys(loader, node)
    mapping = loader.construct_mapping(node)  # the safe loader's own, merge keys included
    if len(node.value) > MAX_MAPPING_KEYS:  # merges expanded: stop before the next doubles it
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"a mapping of more than {MAX_MAPPING_KEYS:,} keys once its merge keys are expanded",
            node.start_mark,
        )
    return mapping


_StudyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping,  # type: ignore[arg-type]
)


def load_yaml(text: str) -> Any:
    """Returns the single YAML document in ``text``, as ``yaml.safe_load`` reads it.

    Raises ``yaml.YAMLError`` for invalid YAML, a repeated key or a merge bomb;
    ``RecursionError`` for nesting deeper than Python's stack; ``ValueError`` for an
    integer of more digits than ``int`` converts (4300).
    """
    loader = _StudyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
