"""The impact of each caniemail feature: ``rules/impact.yaml``, mailqa's own judgement.

The support data says whether a client supports a feature; this file says what the recipient
sees when a client does not (``harmless`` … ``interactive``), in one line, with the caniemail
narrowing it relies on and, where email practice has one, the fix: what to do instead, in one
line. The file must cover exactly the slugs of the bundled support data: a
data update that adds or renames a slug fails to load, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from mailqa.core.errors import RulesError
from mailqa.rules import caniemail, rules_file
from mailqa.rules.caniemail import load_rules
from mailqa.rules.prebuilt import load_cached

if TYPE_CHECKING:
    import yaml

IMPACT_FILE = "impact.yaml"

Impact = Literal["harmless", "enhancement", "layout", "content", "interactive"]
IMPACTS: tuple[Impact, ...] = get_args(Impact)
"""The classes, mildest first."""


class FeatureImpact(BaseModel):
    """What a client that lacks one feature does to the message."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    impact: Impact
    reason: str = Field(description="What the recipient sees when a client lacks the feature.")
    narrowing: str | None = Field(
        default=None,
        description="The caniemail notes narrowing a partial support, as read here.",
    )
    fix: str | None = Field(
        default=None,
        description="What to do instead so that clients lacking the feature still show the "
        "message as meant, in one line.",
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("reason is empty")
        return value

    @field_validator("narrowing", "fix")
    @classmethod
    def _optional_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        if not value:
            raise ValueError(f"{info.field_name} is empty (leave it out instead)")
        return value


class ImpactData(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built when validating

    features: dict[str, FeatureImpact]

    def of(self, slug: str) -> FeatureImpact | None:
        return self.features.get(slug)


@cache
def _unique_key_loader() -> type[yaml.SafeLoader]:
    """A safe loader that refuses a key given twice (PyYAML keeps the last one silently).
    Made on first use: a start with a fresh cache entry needs no YAML parser."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return loader.construct_mapping(node)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, unique_mapping)
    return UniqueKeyLoader


def parse_impact(text: str, slugs: Iterable[str]) -> ImpactData:
    """Validate the impact file's text against the support data's feature ``slugs``.

    Raises ``RulesError`` naming every slug without an entry and every entry for an unknown
    slug, or the entry and field that does not validate.
    """
    import yaml

    try:
        raw = yaml.load(text, Loader=_unique_key_loader())  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RulesError(f"impact data is not valid YAML: {exc}") from exc
    try:
        data = ImpactData.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(f"impact data does not validate: {exc}") from exc
    known = set(slugs)
    missing = sorted(known - set(data.features))
    unknown = sorted(set(data.features) - known)
    problems = []
    if missing:
        problems.append(f"no impact for {len(missing)} feature(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"impact for unknown feature(s): {', '.join(unknown)}")
    if problems:
        raise RulesError("impact data does not match the support data: " + "; ".join(problems))
    return data


def load_impact_from(path: Path, slugs: Iterable[str]) -> ImpactData:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise RulesError(f"cannot load {path}: {exc}") from exc
    try:
        return parse_impact(text, slugs)
    except RulesError as exc:
        raise RulesError(f"{path}: {exc}") from exc


@cache
def load_impact() -> ImpactData:
    """The bundled impact data, checked against the bundled support data, once per process
    (from the prebuilt cache when it is fresh, see ``mailqa.rules.prebuilt``)."""
    path, support = rules_file(IMPACT_FILE), rules_file(caniemail.RULES_FILE)
    return load_cached(
        "impact",
        [path, support],
        [Path(__file__), Path(caniemail.__file__)],
        lambda: load_impact_from(path, load_rules().features),
        ImpactData,
    )
