//! idempotency's integration tests: the Powertools scenarios, exactly-once under
//! concurrency, orphan takeover, counted round trips, the tower layer and the Lambda
//! integration, on store-memory and (where the backend matters) Redis, the Redis
//! cluster and DynamoDB Local.

mod backends;
mod concurrency;
#[path = "../../../../tests-support/fault_backends.rs"]
mod fault_backends;
mod faults;
mod http;
mod lambda;
mod metrics;
mod nesting;
mod orphans;
mod round_trips;
mod scenarios;
mod stalled;
mod workers_kv;
#[path = "../../../../tests-support/workers_kv.rs"]
mod workers_kv_store;
