"""PUBLIC: person-level dbt models anonymized again with the higher public k, for wide sharing.

Tables the policy joins by a path (`public.join_paths`) are one multi-asset: they are staged and verified
together, the path's k is counted over their join (`join_linkage`), and they are published all or none.
"""

from __future__ import annotations

import dagster as dg

from minimization_pipeline.anonymize.joins import JOIN_LINKAGE, JOIN_LINKAGE_DESCRIPTION
from minimization_pipeline.asset_names import key_part
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.defs.results import check_specs, events, not_published
from minimization_pipeline.policy import PublicPolicy


def public_key(model: str) -> dg.AssetKey:
    return dg.AssetKey(["public", key_part(model)])


def _description(model: str, models_schema: str) -> str:
    return (
        f"public.{models_schema}.{model}: the dbt model {model}, only the columns the policy lists, "
        "anonymized again with the public k."
    )


def public_asset(
    model: str, models_database: str, l_diversity: bool = False, models_schema: str = "main", kind: str = "duckdb"
) -> dg.AssetsDefinition:
    key = public_key(model)

    @dg.asset(
        key=key,
        deps=[dg.AssetKey([model])],
        group_name="public",
        kinds={kind},
        check_specs=check_specs(key, l_diversity),
        description=_description(model, models_schema),
    )
    def _public(minimization: MinimizationResource):
        pipeline = minimization.pipeline()
        result = pipeline.publish_public(model, models_database, models_schema)
        yield from events(key, result, plots_dir=pipeline.reports_dir() / "plots")

    return _public


def linked_public_assets(
    models: tuple[str, ...],
    public: PublicPolicy,
    models_database: str,
    models_schema: str = "main",
    kind: str = "duckdb",
) -> dg.AssetsDefinition:
    """PUBLIC tables joined by paths, published together (see module doc)."""
    specs = [
        dg.AssetSpec(
            public_key(model),
            deps=[dg.AssetKey([model])],
            group_name="public",
            kinds={kind},
            description=_description(model, models_schema)
            + " Published together with "
            + ", ".join(m for m in models if m != model)
            + " (a join path links them).",
        )
        for model in models
    ]
    checks = [
        spec
        for model in models
        for spec in [
            *check_specs(public_key(model), bool(public.tables[model].l_diversity)),
            dg.AssetCheckSpec(
                JOIN_LINKAGE, asset=public_key(model), blocking=True, description=JOIN_LINKAGE_DESCRIPTION
            ),
        ]
    ]

    @dg.multi_asset(name="public__" + "__".join(models), specs=specs, check_specs=checks, can_subset=False)
    def _linked(minimization: MinimizationResource):
        pipeline = minimization.pipeline()
        release = pipeline.publish_public_group(models, models_database, models_schema)
        for model, result in release.results.items():
            key = public_key(model)
            yield from events(key, result, materialize=False)
            outcomes = release.linkage[model]
            passed = all(o.passed for o in outcomes)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=JOIN_LINKAGE,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(o.summary for o in outcomes) or "no join path",
                metadata={"paths": dg.MetadataValue.json([{"summary": o.summary, **o.metadata} for o in outcomes])},
            )
        if not release.published:
            failed = [
                f"{model}: {check.name}"
                for model, result in release.results.items()
                for check in [*result.checks, *release.linkage[model]]
                if not check.passed
            ]
            raise not_published(
                next(iter(release.results.values())),
                f"None of {', '.join(f'public.{m}' for m in models)} was replaced: they are published together "
                f"and these checks failed: {'; '.join(sorted(set(failed)))}.",
            )
        for model, result in release.results.items():
            yield from events(public_key(model), result, checks=False, plots_dir=pipeline.reports_dir() / "plots")

    return _linked
