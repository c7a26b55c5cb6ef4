with source as (

    select * from {{ retained_source('stripe', 'charges') }}

)

select
    id as charge_id,
    customer_id as stripe_customer_id,
    amount as amount_cents,
    lower(currency) as currency,
    -- Dollars only for USD charges; no FX conversion, so other currencies get NULL.
    case
        when lower(currency) = 'usd' then cast(amount / 100.0 as decimal(18, 2))
    end as amount_usd,
    created as charged_at,
    card_last4,
    card_brand
from source
