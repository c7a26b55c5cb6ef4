{#- The fixed reference date (var `as_of_date`, 'YYYY-MM-DD') as a cross-database date literal. -#}
{% macro as_of_date() -%}
    {%- set parts = (var('as_of_date') | string).split('-') -%}
    {%- if parts | length != 3 -%}
        {{ exceptions.raise_compiler_error("var('as_of_date') must look like YYYY-MM-DD, got: " ~ var('as_of_date')) }}
    {%- endif -%}
    {{ dbt.date(parts[0] | int, parts[1] | int, parts[2] | int) }}
{%- endmacro %}
