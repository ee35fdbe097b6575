//! Keys a list cursor carries beyond a page (a backend's scan can find more than a page
//! holds): what every backend that defers keys checks and takes from a returning cursor.

use std::collections::HashSet;

use crate::raw::validate;
use crate::{Error, Result};

/// Refuses a cursor whose deferred `keys` this walk could not have found: each must be a
/// valid key starting with `prefix`. (Valid is not enough: the backend still confirms the
/// keys it hands out exist, since an edited cursor can carry any valid key.)
pub fn check_deferred_keys(keys: &[String], prefix: &str, max_key_len: usize) -> Result<()> {
    let outside = |key: &String| {
        !key.starts_with(prefix) || validate::validate_key(key, max_key_len).is_err()
    };
    if keys.iter().any(outside) {
        return Err(Error::InvalidCursor(
            "this cursor carries a key outside the walk: it was edited or belongs to another \
             list call"
                .into(),
        ));
    }
    Ok(())
}

/// Takes the first `limit` keys of `pending` for this page, each once.
pub fn take_deferred(pending: &mut Vec<String>, limit: usize) -> Vec<String> {
    let take = pending.len().min(limit);
    let mut once = HashSet::new();
    pending
        .drain(..take)
        .filter(|key| once.insert(key.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_keys_are_checked_and_taken_once() {
        let keys = vec!["a1".to_owned(), "a2".to_owned()];
        assert!(check_deferred_keys(&keys, "a", 10).is_ok());
        assert!(check_deferred_keys(&keys, "b", 10).is_err());
        assert!(check_deferred_keys(&["a\u{7}".to_owned()], "a", 10).is_err());
        let mut pending = vec![
            "x".to_owned(),
            "x".to_owned(),
            "y".to_owned(),
            "z".to_owned(),
        ];
        assert_eq!(take_deferred(&mut pending, 3), ["x", "y"]);
        assert_eq!(pending, ["z"]);
    }
}
