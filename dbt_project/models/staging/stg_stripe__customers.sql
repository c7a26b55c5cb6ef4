with source as (

    select * from {{ source('stripe', 'customers') }}

)

select
    id as stripe_customer_id,
    email,
    name,
    address_line,
    country
from source
