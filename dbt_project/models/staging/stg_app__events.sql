with source as (

    select * from {{ retained_source('app', 'events') }}

)

select
    id as event_id,
    user_id,
    occurred_at,
    ip_address,
    user_agent,
    event_type
from source
