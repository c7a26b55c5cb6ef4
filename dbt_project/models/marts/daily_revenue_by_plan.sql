{#-
    Published aggregate: groups describing fewer than var('min_group_size') distinct people are
    suppressed (dropped), so no row can single anyone out.
-#}
with orders as (

    select * from {{ ref('stg_app__orders') }}

),

users as (

    select * from {{ ref('stg_app__users') }}

),

orders_with_plan as (

    select
        cast({{ dbt.date_trunc('day', 'orders.ordered_at') }} as date) as order_date,
        users.plan,
        orders.user_id,
        orders.status,
        orders.amount
    from orders
    left join users
        on orders.user_id = users.user_id

)

select
    order_date,
    plan,
    count(*) as orders,
    count(distinct user_id) as customers,
    cast(sum(case when status = 'cancelled' then 0 else amount end) as decimal(18, 2)) as revenue
from orders_with_plan
group by order_date, plan
having count(distinct user_id) >= {{ var('min_group_size') }}
