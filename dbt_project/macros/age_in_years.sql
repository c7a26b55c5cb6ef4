{#-
    Whole years completed between `birth_date` and `as_of` (both date expressions).
    dbt.datediff(..., 'year') counts calendar-year boundaries (on DuckDB and Snowflake alike),
    so subtract one when the birthday has not yet come round in the as-of year.
    Returns NULL when birth_date is NULL.
-#}
{% macro age_in_years(birth_date, as_of) -%}
    (
        {{ dbt.datediff(birth_date, as_of, 'year') }}
        - case
            when extract(month from {{ as_of }}) * 100 + extract(day from {{ as_of }})
                 < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
            then 1
            else 0
          end
    )
{%- endmacro %}
