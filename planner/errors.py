"""Errors the CLI and the app turn into messages (never tracebacks) and exit codes (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass, field


class PlannerError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1


@dataclass(frozen=True)
class Issue:
    """One rejected value: where it is and what was expected."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


MAX_MESSAGE_CHARS = 500  # one problem's line: a 20 MB cell must not become a 20 MB message


def _capped(text: str) -> str:
    return (
        text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 40] + f" ... ({len(text):,} characters)"
    )


class InputError(PlannerError):
    """Bad input (scenario or data). Exit code 2. Carries every issue found, not only the first."""

    exit_code = 2

    def __init__(self, issues: list[Issue] | Issue | str, max_shown: int = 25) -> None:
        if isinstance(issues, str):
            issues = [Issue("input", None, None, issues)]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = list(issues)
        lines = [_capped(str(i)) for i in self.issues[:max_shown]]
        if len(self.issues) > max_shown:
            lines.append(f"... and {len(self.issues) - max_shown} more problems")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Relaxation:
    """One change to the scenario that makes it feasible: scenario fields and their new values, applied together.

    Field names are dotted paths into the scenario file: ``budget_usd``, ``coverage_target``,
    ``policy.region_min_coverage.<region>``, ``policy.technology_max_share.<technology>``,
    ``roadmap.annual_budget_usd.<year>``. Values are in the field's units (USD, or a share in [0, 1]) and already
    rounded the safe way (budgets up to the whole USD, shares to 4 decimals, down for a minimum or a target, up
    for a cap), so the value as printed is the value that was checked.
    """

    changes: dict[str, float]
    note: str = ""  # why it works, e.g. "the least budget found"
    proven: bool = False  # a plan meeting every row with these changes was found (no further check needed)

    def __str__(self) -> str:
        parts = [f"{k} = {_number(k, v)}" for k, v in self.changes.items()]
        return "set " + ", ".join(parts) + (f" ({self.note})" if self.note else "")


def _number(key: str, value: float) -> str:
    return f"{value:,.0f} USD" if key.endswith("budget_usd") or ".annual_budget_usd." in key else f"{value:.4f}"


@dataclass
class Diagnosis:
    """Why a scenario is infeasible and what would make it feasible.

    ``relaxations``: alternatives, each of which alone makes the scenario feasible (checked by the diagnosis with a
    plan that meets it); ``suggestions``: every change of them in one mapping (field -> value), for the app's buttons.
    """

    constraint: str
    message: str
    suggestions: dict[str, float] = field(default_factory=dict)
    relaxations: list[Relaxation] = field(default_factory=list)

    def __post_init__(self) -> None:
        for r in self.relaxations:
            for k, v in r.changes.items():
                self.suggestions.setdefault(k, v)

    def for_country(self, iso3: str) -> Diagnosis:
        """The same diagnosis for one country of a multi-country scenario: constraint, message and fields prefixed."""
        return Diagnosis(
            f"{iso3}: {self.constraint}",
            f"country {iso3}: {self.message}",
            {f"{iso3}.{k}": v for k, v in self.suggestions.items()},
            [Relaxation({f"{iso3}.{k}": v for k, v in r.changes.items()}, r.note) for r in self.relaxations],
        )

    def text(self) -> str:
        """The message with its relaxations, as the CLI and the app print it."""
        if not self.relaxations:
            return self.message
        shown = "; or ".join(str(r) for r in self.relaxations)
        return f"{self.message} Relaxations (each alone makes it feasible): {shown}."


class SolverTimeoutError(PlannerError):
    """The solver found no plan within its time limit (not a proof of infeasibility). Exit code 1."""

    exit_code = 1


class InfeasibleError(PlannerError):
    """The scenario has no feasible plan. Exit code 3; the message names the constraint and a relaxation."""

    exit_code = 3

    def __init__(self, diagnosis: Diagnosis) -> None:
        self.diagnosis = diagnosis
        super().__init__(f"infeasible ({diagnosis.constraint}): {diagnosis.text()}")
