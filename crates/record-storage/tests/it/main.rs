//! record-storage's integration tests: options and overrides, scopes, races, paging and
//! secure records, on store-memory and, where backend behaviour matters, on standalone
//! Redis, the Redis cluster and DynamoDB Local.

mod backends;
mod concurrency;
#[path = "../../../../tests-support/fault_backends.rs"]
mod fault_backends;
mod faults;
mod nesting;
mod options;
mod paging;
mod scopes;
mod secure;
mod values;
mod workers_kv;
#[path = "../../../../tests-support/workers_kv.rs"]
mod workers_kv_store;
