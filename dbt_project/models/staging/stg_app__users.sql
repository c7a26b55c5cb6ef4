with source as (

    select * from {{ source('app', 'users') }}

)

select
    id as user_id,
    email,
    first_name,
    last_name,
    phone,
    birth_date,
    gender,
    zip,
    city,
    signup_at as signed_up_at,
    plan
from source
