with source as (

    select * from {{ source('app', 'plans') }}

)

select
    plan,
    monthly_price,
    description
from source
