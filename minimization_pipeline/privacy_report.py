"""The privacy report: every published table's treatment, k, risk, information loss and checks, on one page.

What an auditor or a data protection officer reads: per table, what happened to each column, the k asked
and reached, re-identification risk before and after (prosecutor and the simulated linkage attack), the
information given up (GCP, per-column NCP and distortion), and every check's outcome. Rendered as Markdown
(shown on the `privacy_report` asset in the Dagster UI) and as one self-contained HTML file (images
inlined) for the data folder. Pure: built from plain values, no Dagster import.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: (metadata name, label) of the risk figures shown before → after
RISK_FIGURES = (
    ("prosecutor_risk_highest", "highest prosecutor risk"),
    ("prosecutor_risk_average", "average prosecutor risk"),
    ("records_at_risk", "records in classes < 5"),
    ("unique_records", "unique records"),
    ("linkage_success", "linkage attack success"),
    ("linkage_unique_success", "linkage attack, unique matches"),
)


@dataclass(frozen=True)
class CheckLine:
    name: str
    passed: bool
    summary: str


@dataclass(frozen=True)
class TableEntry:
    """One RAW_SAFE or PUBLIC table as its latest materialization and checks describe it."""

    key: str  # raw_safe/app/users
    layer: str  # RAW_SAFE | PUBLIC
    metadata: Mapping[str, object]  # of the latest materialization (empty: never published)
    checks: Sequence[CheckLine] = ()
    materialized_at: dt.datetime | None = None
    plots: Mapping[str, Path] = field(default_factory=dict)

    def figure(self, name: str) -> object:
        return self.metadata.get(name)

    @property
    def failed_checks(self) -> list[CheckLine]:
        return [check for check in self.checks if not check.passed]


def _number(value: object, share: bool = False) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.2%}" if share else f"{value:.4g}"
    return str(value)


def _before_after(entry: TableEntry, name: str) -> str:
    share = name not in ("prosecutor_risk_highest", "prosecutor_risk_average")
    before, after = entry.figure(f"{name}_before"), entry.figure(f"{name}_after")
    if before is None and after is None:
        return "–"
    return f"{_number(before, share)} → {_number(after, share)}"


def _gcp(entry: TableEntry) -> str:
    value = entry.figure("gcp_gcp")
    return _number(value, share=True) if isinstance(value, float) else "–"


def _checks(entry: TableEntry) -> str:
    if not entry.checks:
        return "–"
    failed = entry.failed_checks
    return f"{len(entry.checks) - len(failed)}/{len(entry.checks)} passed" + (
        " (failed: " + ", ".join(c.name for c in failed) + ")" if failed else ""
    )


def _rows(entry: TableEntry) -> object:
    return entry.figure("dagster/row_count") or entry.figure("slice_rows")


def summary_rows(entries: Sequence[TableEntry]) -> list[list[str]]:
    """The overview: one row per table."""
    rows = []
    for entry in entries:
        k = entry.figure("k_required")
        rows.append(
            [
                entry.key,
                entry.layer,
                _number(entry.figure("treatment")),
                _number(_rows(entry)),
                f"{_number(k)} / {_number(entry.figure('k_achieved'))}" if k is not None else "–",
                _before_after(entry, "prosecutor_risk_highest"),
                _before_after(entry, "unique_records"),
                _before_after(entry, "linkage_success"),
                _gcp(entry),
                _checks(entry),
            ]
        )
    return rows


SUMMARY_HEADER = [
    "table", "layer", "treatment", "rows", "k required / achieved", "highest risk before → after",
    "unique records", "linkage attack", "GCP", "checks",
]  # fmt: skip


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _column_rows(entry: TableEntry) -> list[list[str]]:
    treatments = entry.figure("treatments")
    ncp = entry.figure("ncp_by_column")
    distortion = entry.figure("distortion_by_column")
    ncp = ncp if isinstance(ncp, Mapping) else {}
    distortion = distortion if isinstance(distortion, Mapping) else {}
    if not isinstance(treatments, Sequence):
        return []
    rows = []
    for about in treatments:
        about = about if isinstance(about, Mapping) else {}
        column = str(about.get("column", ""))
        rows.append(
            [
                str(column),
                str(about.get("type", "")),
                str(about.get("treatment", "")),
                _number(ncp.get(column), share=True) if column in ncp else "",
                _number(distortion.get(column), share=True) if column in distortion else "",
            ]
        )
    return rows


COLUMN_HEADER = ["column", "type", "treatment", "NCP", "values changed"]


def _risk_rows(entry: TableEntry) -> list[list[str]]:
    return [[label, _before_after(entry, name)] for name, label in RISK_FIGURES if _before_after(entry, name) != "–"]


def render_markdown(entries: Sequence[TableEntry], generated_at: dt.datetime, html_path: Path | None = None) -> str:
    lines = [
        f"# Privacy report, {generated_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"{len(entries)} tables; {sum(1 for e in entries if e.failed_checks)} with a failed check. "
        "Risk is shown before (RAW) → after (published). "
        + (f"The full report with plots: `{html_path}`." if html_path else ""),
        "",
        _markdown_table(SUMMARY_HEADER, summary_rows(entries)),
    ]
    for entry in entries:
        lines += ["", f"## {entry.key}", ""]
        if not entry.metadata:
            lines.append("Not published yet.")
        risk_rows = _risk_rows(entry)
        if risk_rows:
            lines += [_markdown_table(["risk", "before → after"], risk_rows), ""]
        column_rows = _column_rows(entry)
        if column_rows:
            lines += [_markdown_table(COLUMN_HEADER, column_rows), ""]
        for check in entry.checks:
            lines.append(f"- {'✅' if check.passed else '❌'} **{check.name}**: {check.summary}")
    return "\n".join(lines) + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #cbd2d9; padding: 0.3rem 0.6rem; text-align: left; }
th { background: #f0f4f8; }
.failed { color: #b42318; font-weight: 600; } .passed { color: #1a7f37; }
.plots img { margin: 0.2rem; border: 1px solid #e4e7eb; }
"""


def _base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(entries: Sequence[TableEntry], generated_at: dt.datetime) -> str:
    """One self-contained page: no stylesheet, script or image outside it."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Privacy report {generated_at:%Y-%m-%d %H:%M}</title><style>{STYLE}</style></head><body>",
        f"<h1>Privacy report, {generated_at:%Y-%m-%d %H:%M} UTC</h1>",
        f"<p>{len(entries)} tables; {sum(1 for e in entries if e.failed_checks)} with a failed check. "
        "Risk is shown before (RAW) → after (published).</p>",
        _html_table(SUMMARY_HEADER, summary_rows(entries)),
    ]
    for entry in entries:
        when = f" (published {entry.materialized_at:%Y-%m-%d %H:%M} UTC)" if entry.materialized_at else ""
        parts.append(f"<h2 id='{html.escape(entry.key)}'>{html.escape(entry.key)}{when}</h2>")
        if not entry.metadata:
            parts.append("<p>Not published yet.</p>")
        risk_rows = _risk_rows(entry)
        if risk_rows:
            parts.append(_html_table(["risk", "before → after"], risk_rows))
        column_rows = _column_rows(entry)
        if column_rows:
            parts.append(_html_table(COLUMN_HEADER, column_rows))
        if entry.checks:
            items = "".join(
                f"<li class='{'passed' if c.passed else 'failed'}'>{'passed' if c.passed else 'FAILED'} "
                f"<b>{html.escape(c.name)}</b>: {html.escape(c.summary)}</li>"
                for c in entry.checks
            )
            parts.append(f"<ul>{items}</ul>")
        images = [
            f"<img alt='{html.escape(name)}' src='data:image/png;base64,{_base64(path)}'>"
            for name, path in entry.plots.items()
            if path.is_file()
        ]
        if images:
            parts.append("<div class='plots'>" + "".join(images) + "</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
