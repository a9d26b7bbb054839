"""Affected-release rows, as rules declare them.

A rule whose harm depends on the release declares ``affected``: a tuple of ``Affected`` rows (or
plain ``(fastapi specifier, starlette specifier, symptom)`` tuples), PEP 440 specifiers (None = any
release), from what the framework does release by release. Messages and docs name the ranges
through ``spec_text`` so that the rows stay the one place that says which releases are affected.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from packaging.version import Version

Row = Tuple[str, str, str]


class Affected(NamedTuple):
    """Releases where a rule's pattern does harm, and what happens there.

    ``fastapi`` / ``starlette``: PEP 440 specifiers (None: any release). ``tag`` lets a rule pick
    among its ranges (AXS101: the default exit-stack name in that range)."""

    fastapi: Optional[str] = None
    starlette: Optional[str] = None
    symptom: str = ""
    tag: str = ""


class Hit(NamedTuple):
    """The part of an affected range the project's possible releases meet."""

    affected: Affected
    fastapi: Tuple[Version, ...]
    fastapi_beyond: bool
    starlette: Tuple[Version, ...]
    starlette_beyond: bool


def narrowed(rows: Sequence[object], fastapi: str) -> Tuple["Affected", ...]:
    """The rows (``Affected`` or plain tuples) limited to the FastAPI releases ``fastapi`` also admits (``""``: unchanged).
    Lower bounds merge (``">=0.118.0"`` and ``">=0.123.5"`` give ``">=0.123.5"``); a row whose
    range becomes empty is dropped."""
    if not fastapi:
        return tuple(r if isinstance(r, Affected) else Affected(*r) for r in rows)  # type: ignore[misc]
    extra = [p.strip() for p in fastapi.split(",") if p.strip()]
    out = []
    for given in rows:
        row = given if isinstance(given, Affected) else Affected(*given)  # type: ignore[misc]
        parts = [p.strip() for p in (row.fastapi or "").split(",") if p.strip()] + extra
        lows = [Version(p[2:]) for p in parts if p.startswith(">=")]
        rest = [p for p in parts if not p.startswith(">=")]
        if lows:
            low = max(lows)
            if any(
                (p.startswith("<=") and Version(p[2:]) < low) or (p.startswith("<") and p[1] != "=" and Version(p[1:]) <= low)
                for p in rest
            ):
                continue  # empty
            rest = [f">={low}"] + rest
        out.append(row._replace(fastapi=",".join(rest)))
    return tuple(out)


def spec_text(spec: str) -> str:
    """``">=0.23.1,<=0.28.0"`` -> ``"0.23.1 - 0.28.0"``, ``"<=0.84.0"`` -> ``"<= 0.84.0"``."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    low = [p[2:] for p in parts if p.startswith(">=")]
    high = [p[2:] for p in parts if p.startswith("<=")]
    if len(parts) == 2 and low and high:
        return f"{low[0]} - {high[0]}"
    if not parts:
        return "any release"
    return ", ".join(f"{p[:2]} {p[2:]}" if p[:2] in (">=", "<=", "==", "!=") else f"{p[:1]} {p[1:]}" for p in parts)


def ranges_text(rows: Sequence[Row]) -> str:
    """``"Starlette <= 0.20.0 (FastAPI <= 0.84.0)"`` for each row, joined."""
    out = []
    for fastapi, starlette, _symptom in rows:
        if starlette and fastapi:
            out.append(f"Starlette {spec_text(starlette)} (FastAPI {spec_text(fastapi)})")
        elif fastapi:
            out.append(f"FastAPI {spec_text(fastapi)}")
        elif starlette:
            out.append(f"Starlette {spec_text(starlette)}")
    return " and ".join(out) if out else "every release"


def by_symptom(rows: Sequence[Row]) -> List[Tuple[str, List[Row]]]:
    """Rows grouped by symptom, in first-seen order."""
    groups: Dict[str, List[Row]] = {}
    for row in rows:
        groups.setdefault(row[2], []).append(row)
    return list(groups.items())


def symptoms_text(rows: Sequence[Row]) -> str:
    """``"on <ranges> <symptom>; on <ranges> <symptom>"``."""
    return "; ".join(f"on {ranges_text(group)} {symptom}" for symptom, group in by_symptom(rows))
