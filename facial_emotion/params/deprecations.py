"""Old params.yaml names, kept working for one release with a one-line warning each.

`seed` meant three things; it now means the random seed only: study 1's network and split are
`study1`. `train.reduce_lr.min_lr` merged into `train.min_learning_rate` (one floor for every
schedule). `cnn.compact.feature_dropout` and `augmentation.erasing` were measured not to help
(docs/experiments/) and are gone: left at their off value they are only warned about.
"""

from __future__ import annotations

from typing import Any

from .messages import ParamsError, key_removed, min_lr_merged, section_renamed, value_renamed

RENAMED_VALUES = {("cnn", "architecture"): ("seed", "study1"), ("split", "strategy"): ("seed", "study1")}
RENAMED_SECTIONS = {("cnn", "seed"): ("cnn", "study1")}
REMOVED = {("cnn", "compact", "feature_dropout"): 0, ("augmentation", "erasing"): 0}


def upgrade(raw: dict[str, Any]) -> list[str]:
    """Rewrite old names in `raw` (a fresh copy of the file) in place; return the warnings."""
    notes: list[str] = []
    for path, (old, new) in RENAMED_VALUES.items():
        section = _mapping_at(raw, path[:-1])
        if section is not None and section.get(path[-1]) == old:
            section[path[-1]] = new
            notes.append(value_renamed(path, old, new))
    for old_path, new_path in RENAMED_SECTIONS.items():
        section = _mapping_at(raw, old_path[:-1])
        if section is None or old_path[-1] not in section:
            continue
        if new_path[-1] in section:
            raise ParamsError(section_renamed(old_path, new_path, both_present=True))
        section[new_path[-1]] = section.pop(old_path[-1])
        notes.append(section_renamed(old_path, new_path))
    for path, off in REMOVED.items():
        section = _mapping_at(raw, path[:-1])
        if section is None or path[-1] not in section:
            continue
        value = section.pop(path[-1])
        if value != off:
            raise ParamsError(key_removed(path, value, still_set=True))
        notes.append(key_removed(path))
    notes += upgrade_train(raw.get("train"), ("train",))
    variants = raw.get("variants")
    if isinstance(variants, dict):
        for name, override in variants.items():
            notes += upgrade_train(override, ("variants", name))
    return notes


def upgrade_train(train: Any, where: tuple[str, ...]) -> list[str]:
    """`reduce_lr.min_lr` is `min_learning_rate` now; two different values cannot both be meant."""
    plateau = train.get("reduce_lr") if isinstance(train, dict) else None
    if not isinstance(plateau, dict) or "min_lr" not in plateau:
        return []
    old = plateau.pop("min_lr")
    path = (*where, "reduce_lr", "min_lr")
    current = train.get("min_learning_rate")
    if current is None:
        train["min_learning_rate"] = old
    elif current != old:
        raise ParamsError(min_lr_merged(path, old, where, current, differs=True))
    return [min_lr_merged(path)]


def _mapping_at(raw: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = raw
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
