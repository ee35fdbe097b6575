//! One parser for every backend's store URL: `scheme://target?option=value&...`.
//!
//! Every backend reads its URL with [`StoreUrl`], so every backend decodes options the
//! same way and says the same thing about a bad one:
//!
//! - the URL must be `scheme://...` with one of the backend's schemes, no surrounding
//!   whitespace and no control characters;
//! - option names and values are percent-decoded (`+` is a space); a value whose
//!   decoded bytes are not UTF-8 is refused, never replaced with U+FFFD;
//! - an option given twice is refused, except where the backend takes a list
//!   ([`StoreUrl::take_all`]);
//! - [`StoreUrl::finish`] refuses any option the backend did not take, naming it and
//!   the valid ones.
//!
//! ```
//! use store_core::raw::StoreUrl;
//! # fn main() -> store_core::Result<()> {
//! let mut url = StoreUrl::parse("demo://host:1/db?timeout_ms=250&prefix=app%3A", &["demo"])?;
//! assert_eq!(url.target(), "host:1/db");
//! assert_eq!(url.take::<u64>("timeout_ms")?, Some(250));
//! assert_eq!(url.take::<String>("prefix")?.as_deref(), Some("app:"));
//! url.finish(&["timeout_ms", "prefix"])?;
//!
//! let mut bad = StoreUrl::parse("demo://?colour=red", &["demo"])?;
//! let err = bad.finish(&["timeout_ms"]).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "misconfigured store: unknown demo:// option `colour` (valid options: timeout_ms)"
//! );
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::str::FromStr;

use crate::{Error, Result};

/// A parsed store URL: its scheme, the part between `://` and `?`, and the decoded
/// query options not taken yet.
#[derive(Debug, Clone)]
pub struct StoreUrl {
    scheme: String,
    target: String,
    redacted: String,
    options: Vec<(String, String)>,
}

/// A value type an option can be read as, with the words used when it does not parse.
pub trait OptionValue: Sized {
    /// What a valid value looks like, for the error message ("a whole number").
    const EXPECTED: &'static str;
    /// Parses a decoded value.
    fn parse_option(value: &str) -> Option<Self>;
}

macro_rules! whole_numbers {
    ($($ty:ty),*) => {$(
        impl OptionValue for $ty {
            const EXPECTED: &'static str = "a whole number";
            fn parse_option(value: &str) -> Option<Self> {
                // `FromStr` accepts a leading `+`; a URL option does not need it.
                if value.starts_with('+') { None } else { <$ty>::from_str(value).ok() }
            }
        }
    )*};
}
whole_numbers!(u16, u32, u64, usize);

impl OptionValue for bool {
    const EXPECTED: &'static str = "`true` or `false`";
    fn parse_option(value: &str) -> Option<Self> {
        value.parse().ok()
    }
}

impl OptionValue for String {
    const EXPECTED: &'static str = "text";
    fn parse_option(value: &str) -> Option<Self> {
        Some(value.to_owned())
    }
}

impl StoreUrl {
    /// Parses `url`, whose scheme must be one of `schemes` (compared case-insensitively,
    /// reported lower-cased).
    ///
    /// Errors: [`Error::Misconfigured`] for a URL that is not `scheme://...`, has another
    /// scheme, contains whitespace or control characters, or has an option that does not
    /// decode, or is given twice.
    pub fn parse(url: &str, schemes: &[&str]) -> Result<Self> {
        let redacted = redact(url);
        let malformed = |why: &str| {
            Error::Misconfigured(format!("`{redacted}` is not a valid store URL: {why}"))
        };
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(malformed("it contains whitespace or control characters"));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(malformed("expected `scheme://...`"));
        };
        let scheme = scheme.to_ascii_lowercase();
        if !schemes.contains(&scheme.as_str()) {
            let expected: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
            return Err(malformed(&format!("expected {}", expected.join(" or "))));
        }
        let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
        if target.contains('#') || query.contains('#') {
            return Err(malformed("a store URL has no `#fragment`"));
        }
        let mut options: Vec<(String, String)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name).ok_or_else(|| {
                Error::Misconfigured(format!(
                    "{scheme}:// option name `{name}` is not percent-encoded UTF-8"
                ))
            })?;
            let value = decode(value).ok_or_else(|| {
                Error::Misconfigured(format!(
                    "{scheme}:// option `{name}` has a value that is not percent-encoded UTF-8: \
                     `{value}`"
                ))
            })?;
            options.push((name.into_owned(), value.into_owned()));
        }
        Ok(StoreUrl {
            scheme,
            target: target.to_owned(),
            redacted,
            options,
        })
    }

    /// The scheme, lower-cased.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Everything between `://` and `?`, as written (user info, hosts, path).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Takes option `name`, parsed as `T`; `None` when absent.
    ///
    /// Errors: [`Error::Misconfigured`] when it is given twice or does not parse.
    pub fn take<T: OptionValue>(&mut self, name: &str) -> Result<Option<T>> {
        let mut values = self.take_all::<T>(name)?;
        if values.len() > 1 {
            return Err(Error::Misconfigured(format!(
                "{}:// option `{name}` is given {} times; give it once",
                self.scheme,
                values.len()
            )));
        }
        Ok(values.pop())
    }

    /// Takes every value of option `name` (an option that lists, such as a cluster's
    /// `node`), in the order given, each parsed as `T`.
    pub fn take_all<T: OptionValue>(&mut self, name: &str) -> Result<Vec<T>> {
        let mut taken = Vec::new();
        let mut kept = Vec::with_capacity(self.options.len());
        for (option, value) in std::mem::take(&mut self.options) {
            if option == name {
                taken.push(T::parse_option(&value).ok_or_else(|| {
                    Error::Misconfigured(format!(
                        "{}:// option `{name}` must be {}, got `{value}`",
                        self.scheme,
                        T::EXPECTED
                    ))
                })?);
            } else {
                kept.push((option, value));
            }
        }
        self.options = kept;
        Ok(taken)
    }

    /// Takes option `name`, which must be one of `choices`.
    pub fn take_choice(
        &mut self,
        name: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>> {
        let Some(value) = self.take::<String>(name)? else {
            return Ok(None);
        };
        match choices.iter().find(|c| **c == value) {
            Some(choice) => Ok(Some(choice)),
            None => Err(Error::Misconfigured(format!(
                "{}:// option `{name}` must be one of {}, got `{value}`",
                self.scheme,
                choices
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Ends parsing: refuses any option not taken, naming it and the `valid` ones.
    pub fn finish(self, valid: &[&str]) -> Result<()> {
        match self.options.first() {
            None => Ok(()),
            Some((name, _)) => Err(Error::Misconfigured(format!(
                "unknown {}:// option `{name}` (valid options: {})",
                self.scheme,
                if valid.is_empty() {
                    "none".to_owned()
                } else {
                    valid.join(", ")
                }
            ))),
        }
    }
}

/// Percent-decodes `s` (`+` is a space); `None` when the bytes are not UTF-8.
fn decode(s: &str) -> Option<Cow<'_, str>> {
    let spaced: Cow<'_, str> = if s.contains('+') {
        Cow::Owned(s.replace('+', " "))
    } else {
        Cow::Borrowed(s)
    };
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()?;
    Some(Cow::Owned(decoded.into_owned()))
}

/// `url` with the password of its user info replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end + 3..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + 3 + i);
    match url[..authority_end].rfind('@') {
        Some(at) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<StoreUrl> {
        StoreUrl::parse(url, &["demo", "demos"])
    }

    #[test]
    fn malformed_urls_are_refused_with_one_wording() {
        for url in [
            "demo:",
            "demo:x",
            " demo://",
            "demo://\n",
            "other://x",
            "demo://x#frag",
        ] {
            let err = parse(url).unwrap_err();
            assert!(
                err.to_string().contains("is not a valid store URL"),
                "{url:?}: {err}"
            );
        }
    }

    #[test]
    fn values_decode_or_are_refused() {
        let err = parse("demo://?a=x%20y+z&b=%FF%FE").unwrap_err();
        assert!(
            err.to_string().contains("not percent-encoded UTF-8"),
            "{err}"
        );
        let mut ok = parse("DEMO://h?a=x%20y+z").unwrap();
        assert_eq!(ok.scheme(), "demo");
        assert_eq!(ok.take::<String>("a").unwrap().as_deref(), Some("x y z"));
        ok.finish(&["a"]).unwrap();
        let mut url = parse("demo://?n=%41").unwrap();
        assert!(
            url.take::<u64>("n")
                .unwrap_err()
                .to_string()
                .contains("demo:// option `n` must be a whole number, got `A`")
        );
    }

    #[test]
    fn repeated_options_are_refused_unless_listed() {
        let mut url = parse("demo://?n=1&n=2&node=a&node=b").unwrap();
        assert!(
            url.take::<u64>("n")
                .unwrap_err()
                .to_string()
                .contains("given 2 times")
        );
        assert_eq!(url.take_all::<String>("node").unwrap(), ["a", "b"]);
    }

    #[test]
    fn choices_and_leftovers_name_the_valid_ones() {
        let mut url = parse("demo://?mode=wide&x=1").unwrap();
        let err = url
            .take_choice("mode", &["simple", "composite"])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("one of `simple`, `composite`, got `wide`"),
            "{err}"
        );
        let err = url.finish(&["mode"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown demo:// option `x` (valid options: mode)")
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("demo://user:secret@h:1/0"), "demo://user:***@h:1/0");
        assert_eq!(redact("demo://:secret@h:1"), "demo://:***@h:1");
        assert_eq!(redact("demo://h:1/a@b"), "demo://h:1/a@b");
        let err = parse("demo://u:hunter2@h?x=1")
            .unwrap()
            .finish(&[])
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        let err = parse("nope://u:hunter2@h").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
