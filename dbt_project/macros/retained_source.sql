{#-
    A source of an append-only table whose old RAW rows may be deleted by the pipeline's retention
    (policy `keep_identifiable`). In the prod target, once the pipeline has made the history view
    <prod database>.retained.<source>__<table> (RAW rows where RAW still has them, the anonymized
    RAW_SAFE rows where it does not), models read that view, so they keep the full history after
    deletion. Everywhere else, and before any retention, it is the plain source. `source()` is always
    called, so lineage is the same either way.
-#}
{% macro retained_source(source_name, table_name) %}
    {%- set plain = source(source_name, table_name) -%}
    {%- if execute and target.name == 'prod' -%}
        {%- set history = adapter.get_relation(
            database=target.database, schema='retained', identifier=source_name ~ '__' ~ table_name
        ) -%}
        {%- if history is not none -%}
            {{ return(history) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(plain) }}
{% endmacro %}
