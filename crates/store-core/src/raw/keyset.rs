//! The cursor of a keyset-paginated `list` (SQL backends): the last key handed out,
//! tagged by the backend and base64-encoded, checked when it comes back.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{Cursor, Error, Result};

/// The cursor that continues a walk after `last` (the last key of a page), for a
/// backend whose cursors start with `tag` (e.g. `"pg1."`).
pub fn keyset_cursor(tag: &str, last: &str) -> Cursor {
    super::cursor(format!("{tag}{}", URL_SAFE_NO_PAD.encode(last)))
}

/// The key a [`keyset_cursor`] continues after: `None` for the first page. A cursor
/// that comes back is the caller's text: it must carry `tag`, decode to UTF-8 and name a
/// key that could lie under `prefix` (non-empty, at most `max_key_len` bytes, no control
/// characters), else `InvalidCursor`. An edited cursor that passes only moves the walk:
/// every key listed still comes from the table.
pub fn keyset_after(
    tag: &str,
    cursor: Option<&Cursor>,
    prefix: &str,
    max_key_len: usize,
) -> Result<String> {
    let Some(cursor) = cursor else {
        return Ok(String::new());
    };
    let key = cursor
        .as_str()
        .strip_prefix(tag)
        .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::InvalidCursor(format!("not a list cursor of this store ({tag})")))?;
    let valid = key.starts_with(prefix)
        && !key.is_empty()
        && key.len() <= max_key_len
        && !key.chars().any(char::is_control);
    if valid {
        Ok(key)
    } else {
        Err(Error::InvalidCursor(
            "not a cursor of this namespace and prefix".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_edits_are_checked() {
        let cursor = keyset_cursor("t1.", "user/42");
        assert_eq!(
            keyset_after("t1.", Some(&cursor), "user/", 64).unwrap(),
            "user/42"
        );
        assert_eq!(keyset_after("t1.", None, "", 64).unwrap(), "");
        for bad in ["user/42", "t2.dXNlci80Mg", "t1.!!!", "t1."] {
            let bad = crate::raw::cursor(bad);
            assert!(matches!(
                keyset_after("t1.", Some(&bad), "", 64),
                Err(Error::InvalidCursor(_))
            ));
        }
        // Under another prefix, too long, or with a control character: refused.
        assert!(keyset_after("t1.", Some(&cursor), "team/", 64).is_err());
        assert!(keyset_after("t1.", Some(&cursor), "", 3).is_err());
        let control = keyset_cursor("t1.", "a\u{7}b");
        assert!(keyset_after("t1.", Some(&control), "", 64).is_err());
    }
}
