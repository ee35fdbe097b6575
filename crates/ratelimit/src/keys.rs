//! Where a limiter keeps its state: its namespace and every key in it.
//!
//! | key | holds |
//! |---|---|
//! | `<len>:<resource>:<caller>` | fixed window counter, GCRA arrival time |
//! | `<len>:<resource>:<caller>#<window index>` | sliding window counters |
//! | `<len>:<resource>:<caller>#queue` | `acquire`'s ticket counter |
//! | `<len>:<resource>#usage` | adaptive limiter: units taken in the window |
//! | `<len>:<resource>#activity#<bucket index>` | adaptive limiter: user activity |
//!
//! The resource's length in front keeps the mapping injective whatever the resource and
//! caller contain: after `<len>` bytes of resource, a `:` starts a caller and a `#` an
//! adaptive key, so a caller named `usage` cannot reach the adaptive limiter's state.

use store_core::raw::validate;
use store_core::{Capabilities, Result};

/// The namespace of limiter `name`, checked against the store's namespace limit.
pub(crate) fn namespace(name: &str, caps: &Capabilities) -> Result<String> {
    let namespace = format!("ratelimit#{name}");
    validate::validate_namespace_within(&namespace, caps.max_namespace_len)?;
    Ok(namespace)
}

/// One key per resource and caller.
pub(crate) fn state_key(resource: &str, caller: &str) -> String {
    format!("{}:{resource}:{caller}", resource.len())
}

/// The key of window number `index` of a sliding-window counter.
pub(crate) fn window_key(state_key: &str, index: u64) -> String {
    format!("{state_key}#{index}")
}

/// The ticket counter of `acquire`'s waiters.
pub(crate) fn queue_key(state_key: &str) -> String {
    format!("{state_key}#queue")
}

/// The adaptive limiter's usage counter of `resource`.
pub(crate) fn usage_key(resource: &str) -> String {
    format!("{}:{resource}#usage", resource.len())
}

/// The adaptive limiter's activity bucket `index` of `resource`.
pub(crate) fn bucket_key(resource: &str, index: u64) -> String {
    format!("{}:{resource}#activity#{index}", resource.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_injective_across_the_resource_caller_boundary() {
        assert_ne!(state_key("a:b", "c"), state_key("a", "b:c"));
        assert_ne!(usage_key("x"), state_key("x", "usage"));
        assert_ne!(
            bucket_key("x", 1),
            window_key(&state_key("x", "activity"), 1)
        );
    }

    #[test]
    fn the_namespace_respects_the_store_limit() {
        let mut caps = Capabilities::default();
        caps.max_namespace_len = 16;
        assert!(namespace("api", &caps).is_ok());
        assert!(namespace("a-longer-name", &caps).is_err());
    }
}
