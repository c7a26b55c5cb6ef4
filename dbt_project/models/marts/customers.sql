with users as (

    select * from {{ ref('stg_app__users') }}

),

orders as (

    select * from {{ ref('stg_app__orders') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

stripe_charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

order_stats as (

    select
        user_id,
        count(*) as order_count,
        sum(case when status = 'cancelled' then 0 else amount end) as lifetime_value,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from orders
    group by user_id

),

-- The Stripe customer whose email equals the user's email; the smallest id if there are several.
stripe_match as (

    select
        users.user_id,
        min(stripe_customers.stripe_customer_id) as stripe_customer_id
    from users
    inner join stripe_customers
        on users.email = stripe_customers.email
    group by users.user_id

),

charge_totals as (

    select
        stripe_customer_id,
        sum(amount_usd) as charged_usd
    from stripe_charges
    group by stripe_customer_id

)

select
    users.user_id,
    users.email,
    {{ age_in_years('users.birth_date', as_of_date()) }} as age,
    substring(users.zip, 1, 3) as zip3,
    users.gender,
    users.city,
    users.plan,
    users.signed_up_at,
    coalesce(order_stats.order_count, 0) as order_count,
    cast(coalesce(order_stats.lifetime_value, 0) as decimal(18, 2)) as lifetime_value,
    order_stats.first_order_at,
    order_stats.last_order_at,
    stripe_match.stripe_customer_id,
    case
        when stripe_match.stripe_customer_id is not null
            then cast(coalesce(charge_totals.charged_usd, 0) as decimal(18, 2))
    end as stripe_charged_usd
from users
left join order_stats
    on users.user_id = order_stats.user_id
left join stripe_match
    on users.user_id = stripe_match.user_id
left join charge_totals
    on stripe_match.stripe_customer_id = charge_totals.stripe_customer_id
