//! How deeply a stored JSON document nests, measured without recursion, so features can
//! refuse a hostile value before a recursive decoder walks it and overflows the stack.

/// The most arrays and objects open at once in the JSON text `json` (0 for a scalar).
/// Brackets inside strings do not count. Invalid JSON gets a number too; the decoder
/// that follows reports the syntax error.
///
/// ```
/// use store_core::raw::json_nesting;
/// assert_eq!(json_nesting(b"1"), 0);
/// assert_eq!(json_nesting(br#"{"a":[1,{"b":"[[["}]}"#), 3);
/// ```
pub fn json_nesting(json: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_escapes_do_not_count() {
        assert_eq!(json_nesting(br#"["\"[[[", "\\", [{}]]"#), 3);
        assert_eq!(json_nesting(&[b'['; 5000]), 5000);
        assert_eq!(json_nesting(b"\"unterminated [[["), 0);
    }
}
