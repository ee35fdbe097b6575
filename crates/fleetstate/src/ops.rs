//! Store operations for operators: entries printed as text, or as hex/base64 when
//! binary, with their version and expiry.

use std::time::Duration;

use base64::Engine;
use store_core::{Entry, Timestamp};

/// How a value is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8 text when it is, else base64.
    #[default]
    Auto,
    /// Always hexadecimal.
    Hex,
    /// Always base64 (standard alphabet).
    Base64,
}

/// `value` as text under `encoding`, with how it was encoded.
pub fn render(value: &[u8], encoding: Encoding) -> (String, &'static str) {
    match encoding {
        Encoding::Auto => match std::str::from_utf8(value) {
            Ok(text)
                if !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t') =>
            {
                (text.to_owned(), "utf8")
            }
            _ => (
                base64::engine::general_purpose::STANDARD.encode(value),
                "base64",
            ),
        },
        Encoding::Hex => (value.iter().map(|b| format!("{b:02x}")).collect(), "hex"),
        Encoding::Base64 => (
            base64::engine::general_purpose::STANDARD.encode(value),
            "base64",
        ),
    }
}

/// An entry as JSON: value (with its encoding), version, expiry in ms since the epoch
/// and the time left.
pub fn entry_json(entry: &Entry, encoding: Encoding) -> serde_json::Value {
    let (value, encoded) = render(&entry.value, encoding);
    let left = entry
        .expires_at
        .map(|at| at.saturating_duration_since(Timestamp::now()).as_millis() as u64);
    serde_json::json!({
        "value": value,
        "encoding": encoded,
        "version": store_core::raw::version_number(entry.version).to_string(),
        "expires_at_ms": entry.expires_at.map(Timestamp::as_millis),
        "expires_in_ms": left,
    })
}

/// An entry for humans: the value, then its version and expiry.
pub fn entry_text(entry: &Entry, encoding: Encoding) -> String {
    let (value, encoded) = render(&entry.value, encoding);
    let expiry = match entry.expires_at {
        Some(at) => format!(
            "expires in {:.1} s",
            at.saturating_duration_since(Timestamp::now()).as_secs_f64()
        ),
        None => "never expires".to_owned(),
    };
    let encoded = if encoded == "utf8" {
        String::new()
    } else {
        format!(" ({encoded})")
    };
    format!(
        "{value}{encoded}\nversion {} · {expiry}",
        store_core::raw::version_number(entry.version)
    )
}

/// A duration like `90s`, `15m`, `2h`, `500ms` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 90s, 15m, 2h, 500ms)"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        "d" => Ok(Duration::from_secs(n * 86_400)),
        _ => Err(format!("`{text}`: unknown unit `{unit}` (ms, s, m, h, d)")),
    }
}
