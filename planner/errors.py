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


@dataclass
class Diagnosis:
    """Why a scenario is infeasible and what would make it feasible."""

    constraint: str
    message: str
    suggestions: dict[str, float] = field(default_factory=dict)


class SolverTimeoutError(PlannerError):
    """The solver found no plan within its time limit (not a proof of infeasibility). Exit code 1."""

    exit_code = 1


class InfeasibleError(PlannerError):
    """The scenario has no feasible plan. Exit code 3; the message names the constraint and a relaxation."""

    exit_code = 3

    def __init__(self, diagnosis: Diagnosis) -> None:
        self.diagnosis = diagnosis
        super().__init__(f"infeasible ({diagnosis.constraint}): {diagnosis.message}")
