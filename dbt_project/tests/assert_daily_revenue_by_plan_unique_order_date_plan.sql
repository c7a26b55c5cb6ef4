-- daily_revenue_by_plan must have at most one row per (order_date, plan); NULL plans count as one group.
select
    order_date,
    plan,
    count(*) as n_rows
from {{ ref('daily_revenue_by_plan') }}
group by order_date, plan
having count(*) > 1
