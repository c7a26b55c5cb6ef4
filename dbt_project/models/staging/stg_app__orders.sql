with source as (

    select * from {{ retained_source('app', 'orders') }}

)

select
    id as order_id,
    user_id,
    ordered_at,
    amount,
    status,
    shipping_zip
from source
