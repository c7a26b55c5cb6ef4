{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['event_hour'],
        tags=['partitioned'],
    )
}}
{#-
    Events per hour and type. Incremental over the hourly partitions of app.events: a run for a window of
    partitions passes vars min_ts and max_ts ('YYYY-MM-DD HH:MM:SS', end exclusive), reads only those
    hours' events and replaces only those hours' rows. Without the vars it reads everything.
-#}
with events as (

    select * from {{ ref('stg_app__events') }}
    {% if is_incremental() and var('min_ts', none) is not none %}
    where occurred_at >= cast('{{ var("min_ts") }}' as timestamp)
        and occurred_at < cast('{{ var("max_ts") }}' as timestamp)
    {% endif %}

)

select
    cast({{ dbt.date_trunc('hour', 'occurred_at') }} as timestamp) as event_hour,
    event_type,
    count(*) as events,
    count(distinct user_id) as users
from events
group by 1, 2
