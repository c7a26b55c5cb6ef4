-- customers.order_count must never be negative.
select
    user_id,
    order_count
from {{ ref('customers') }}
where order_count < 0
