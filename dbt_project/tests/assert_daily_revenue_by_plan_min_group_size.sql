-- No published group may describe fewer than var('min_group_size') distinct customers.
select
    order_date,
    plan,
    customers
from {{ ref('daily_revenue_by_plan') }}
where customers < {{ var('min_group_size') }}
