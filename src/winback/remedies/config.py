"""Reading ``remedies.yaml`` (catalogue and role limits), with errors naming file and line."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from winback.playbooks.loader import PlaybookError, line_of, read_yaml
from winback.remedies.catalogue import ROLES, Catalogue, Remedy, RoleLimit

REMEDIES_FILE = "remedies.yaml"
DEFAULTS_FILE = Path(__file__).parent / "defaults.yaml"


class RemedyConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid remedies:\n  " + "\n  ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleIn(_Strict):
    max_tier: int = Field(ge=0, le=9)
    max_amount: float = Field(ge=0)


class RemedyIn(_Strict):
    kind: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=200)
    tier: int = Field(1, ge=1, le=9)
    monetary: bool = True
    default_amount: float = Field(0.0, ge=0)
    max_amount: float | None = Field(None, ge=0)
    currency: str = Field("EUR", min_length=3, max_length=3)
    categories: list[str] = Field(default_factory=list)
    min_customer_value: float | None = None
    customer_cap: float | None = Field(None, ge=0)
    cap_period_days: int = Field(90, ge=1, le=3660)
    monthly_budget: float | None = Field(None, ge=0)
    cost_ratio: float = Field(1.0, ge=0, le=10)
    fixed_cost: float = Field(0.0, ge=0)


class CatalogueIn(_Strict):
    roles: dict[str, RoleIn]
    remedies: dict[str, RemedyIn] = Field(min_length=1)


def parse_catalogue(text: str, source: str) -> Catalogue:
    try:
        document, lines = read_yaml(text, source)
    except PlaybookError as exc:
        raise RemedyConfigError(exc.problems) from None
    try:
        model = CatalogueIn.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc)
            message = (
                f"unknown field {loc[-1]!r}" if err["type"] == "extra_forbidden" else err["msg"]
            )
            problems.append(f"{source}:{line_of(lines, loc)}: {where}: {message}")
        raise RemedyConfigError(problems) from None
    unknown = [r for r in model.roles if r not in ROLES]
    if unknown:
        raise RemedyConfigError(
            [
                f"{source}:{line_of(lines, ('roles', r))}: roles.{r}: unknown role; "
                f"one of {', '.join(ROLES)}"
                for r in unknown
            ]
        )
    remedies = {
        name: Remedy(
            name=name,
            kind=r.kind,
            label=r.label,
            tier=r.tier,
            monetary=r.monetary,
            default_amount=r.default_amount,
            max_amount=r.max_amount,
            currency=r.currency.upper(),
            categories=frozenset(r.categories),
            min_customer_value=r.min_customer_value,
            customer_cap=r.customer_cap,
            cap_period_days=r.cap_period_days,
            monthly_budget=r.monthly_budget,
            cost_ratio=r.cost_ratio,
            fixed_cost=r.fixed_cost,
        )
        for name, r in model.remedies.items()
    }
    limits = {name: RoleLimit(name, r.max_tier, r.max_amount) for name, r in model.roles.items()}
    return Catalogue(remedies, limits, ROLES, source)


def default_catalogue() -> Catalogue:
    return parse_catalogue(DEFAULTS_FILE.read_text(encoding="utf-8"), "built-in defaults")


def load_catalogue(config_dir: Path | None) -> Catalogue:
    """``remedies.yaml`` in the config dir, else the shipped catalogue."""
    if config_dir is not None:
        path = config_dir / REMEDIES_FILE
        if path.is_file():
            return parse_catalogue(path.read_text(encoding="utf-8"), str(path))
    return default_catalogue()
