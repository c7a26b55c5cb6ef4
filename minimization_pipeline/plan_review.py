"""`python -m minimization_pipeline plan`: what each RAW table and column will get, and why.

A reviewer approves a new source before it flows: for every column, the role and method the next run
applies, where that comes from (the policy, a confident classifier proposal, or the fail-closed default),
and the classifier's own view (confidence and evidence) even where it was not confident enough to be
followed. ``--write`` adds the current plan of every column the policy does not name to
``minimization.yaml`` -- exactly what runs today, so writing changes no output -- each with a comment
giving the classifier's reasons, for a human to edit. Comments and layout of the file are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from minimization_pipeline.anonymize.plan import ColumnPlan
from minimization_pipeline.pipeline import TableReview
from minimization_pipeline.policy import ColumnPolicy, Method, Role, Treatment, load_policy


def _method(column: ColumnPlan) -> str:
    if column.method is Method.FAKE and column.policy.fake is not None:
        return f"fake:{column.policy.fake.value}"
    if column.method is Method.MASK:
        return f"mask:{column.policy.mask.value}"
    return column.method.value if column.method else ""


def _source(review: TableReview, column: ColumnPlan) -> str:
    if column.reason == "policy":
        return "policy"
    return "classifier" if column.reason.startswith("classified") else "fail-closed"


def _opinion(review: TableReview, name: str) -> str:
    proposal = review.proposals.get(name)
    if proposal is None:
        return ""
    what = proposal.role.value + (f"/{proposal.method.value}" if proposal.method else "")
    reasons = list(proposal.evidence[:3])
    if name in review.evidence:
        reasons.append(review.evidence[name].describe())
    return f"{proposal.kind} → {what} {proposal.confidence:.0%}: " + "; ".join(reasons)


def format_review(reviews: Sequence[TableReview]) -> str:
    """A plain-text report, one block per table (what a terminal and a code review show well)."""
    blocks = []
    for review in reviews:
        table = review.table
        title = f"raw.{table.schema}.{table.name}"
        if review.plan is None:
            blocks.append(f"{title}: NOT PUBLISHED: {review.problem}")
            continue
        plan = review.plan
        where = "in policy" if review.in_policy else "NOT IN POLICY: classifier's plan, fail-closed"
        header = f"{title}  ({where}; {plan.treatment.value}"
        header += f", k={plan.k}, {plan.mode.value})" if plan.quasi else ")"
        rows = [("column", "type", "role", "method", "from", "classifier (kind → proposal confidence: evidence)")]
        for column in plan.columns:
            rows.append(
                (
                    column.name,
                    column.data_type,
                    column.role.value,
                    _method(column),
                    _source(review, column),
                    _opinion(review, column.name),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [header]
        for row in rows:
            lines.append(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5]
            )
        blocks.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks)


def _yaml_value(policy: ColumnPolicy) -> object:
    """The shortest policy spelling: `keep`, `quasi`, `hash`, `fake:email`, or a mapping for a mask."""
    if policy.role is not Role.DIRECT:
        return policy.role.value
    if policy.method is Method.FAKE and policy.fake is not None:
        return f"fake:{policy.fake.value}"
    if policy.method is Method.MASK:
        from ruamel.yaml.comments import CommentedMap

        entry = CommentedMap(role="direct", method="mask", mask=policy.mask.value)
        entry.fa.set_flow_style()  # one line, like the hand-written entries
        return entry
    return policy.method.value if policy.method else Method.HASH.value


def write_suggestions(policy_path: Path, reviews: Sequence[TableReview], today: dt.date | None = None) -> list[str]:
    """Add every unnamed column's current plan to the policy file; returns ``schema.table.column`` added.

    Pass-through tables only gain the columns the classifier is sure are harmless (what a view may
    show); their other columns stay unlisted and NULL. The file is re-validated after writing.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()  # round-trip: comments, order and quoting of the hand-written file are kept
    yaml.width = 200
    document = yaml.load(policy_path.read_text()) or CommentedMap()
    stamp = f"suggested by `plan` on {(today or dt.date.today()).isoformat()}"
    added = []
    for review in reviews:
        plan = review.plan
        if plan is None:
            continue
        new = [column for column in plan.columns if column.reason != "policy"]
        if plan.treatment is Treatment.PASS_THROUGH:
            new = [column for column in new if column.role is Role.KEEP]
        if not new:
            continue
        sources = document.setdefault("sources", CommentedMap())
        source = sources.setdefault(review.table.schema, CommentedMap())
        tables = source.setdefault("tables", CommentedMap())
        if review.table.name not in tables:
            tables[review.table.name] = CommentedMap()
            tables.yaml_add_eol_comment(f"{stamp}: review before it flows", review.table.name)
        columns = tables[review.table.name].setdefault("columns", CommentedMap())
        for column in new:
            columns[column.name] = _yaml_value(column.policy)
            opinion = _opinion(review, column.name) or column.reason
            columns.yaml_add_eol_comment(f"{_source(review, column)}; {opinion}".replace("#", ""), column.name)
            added.append(f"{review.table.schema}.{review.table.name}.{column.name}")
    if added:
        tmp = policy_path.with_suffix(policy_path.suffix + ".tmp")
        with tmp.open("w") as handle:
            yaml.dump(document, handle)
        load_policy(tmp)  # never leave a policy behind that does not load
        tmp.replace(policy_path)
    return added
