//! Scopes become namespaces: `records/w/<ws>`, `records/e/<ws>/<env>`,
//! `records/i/<ws>/<env>/<inv>`, each id escaped so the mapping is injective.

use std::fmt::Write;

use store_core::Capabilities;

use crate::options::{Context, Scope};
use crate::{RecordError, Result};

/// The namespace records of `scope` live in for `context`.
pub(crate) fn namespace(scope: Scope, context: &Context, caps: &Capabilities) -> Result<String> {
    let mut ns = String::with_capacity(64);
    match scope {
        Scope::Workspace => {
            ns.push_str("records/w/");
            escape_into(&mut ns, context.workspace_id());
        }
        Scope::Environment => {
            ns.push_str("records/e/");
            escape_into(&mut ns, context.workspace_id());
            ns.push('/');
            escape_into(&mut ns, context.environment_id());
        }
        Scope::Invocation => {
            let invocation = context.invocation_id().ok_or(RecordError::NoInvocation)?;
            ns.push_str("records/i/");
            escape_into(&mut ns, context.workspace_id());
            ns.push('/');
            escape_into(&mut ns, context.environment_id());
            ns.push('/');
            escape_into(&mut ns, invocation);
        }
    }
    let max = caps
        .max_namespace_len
        .min(store_core::raw::validate::MAX_NAMESPACE_LEN);
    if ns.len() > max {
        return Err(RecordError::ScopeTooLong {
            len: ns.len(),
            namespace: ns,
            max,
        });
    }
    Ok(ns)
}

/// Percent-escapes `%`, `/` and ASCII control characters: the escaped id contains no
/// `/`, so the separators above are unambiguous, and escaping `%` makes it reversible.
fn escape_into(out: &mut String, id: &str) {
    for c in id.chars() {
        if c == '%' || c == '/' || c.is_ascii_control() {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_namespace_len: usize) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_namespace_len = max_namespace_len;
        caps
    }

    fn ns(scope: Scope, ctx: &Context) -> String {
        namespace(scope, ctx, &caps(256)).unwrap()
    }

    #[test]
    fn ids_with_separators_cannot_collide() {
        let a = Context::new("a/b", "c");
        let b = Context::new("a", "b/c");
        assert_ne!(ns(Scope::Environment, &a), ns(Scope::Environment, &b));
        let c = Context::new("a%2Fb", "c");
        assert_ne!(ns(Scope::Environment, &a), ns(Scope::Environment, &c));
        assert_eq!(ns(Scope::Environment, &a), "records/e/a%2Fb/c");
        assert_eq!(ns(Scope::Environment, &c), "records/e/a%252Fb/c");
    }

    #[test]
    fn control_characters_are_escaped_into_a_valid_namespace() {
        let ctx = Context::new("w\n", "e\u{0}");
        assert_eq!(ns(Scope::Environment, &ctx), "records/e/w%0A/e%00");
    }

    #[test]
    fn scopes_never_share_a_namespace() {
        let ctx = Context::new("w", "e").with_invocation("i");
        let all = [Scope::Workspace, Scope::Environment, Scope::Invocation].map(|s| ns(s, &ctx));
        assert_eq!(all, ["records/w/w", "records/e/w/e", "records/i/w/e/i"]);
    }

    #[test]
    fn invocation_scope_needs_an_invocation_id() {
        let caps = caps(256);
        let err = namespace(Scope::Invocation, &Context::new("w", "e"), &caps).unwrap_err();
        assert!(matches!(err, RecordError::NoInvocation));
    }

    #[test]
    fn overlong_ids_are_a_clear_error() {
        let caps = caps(32);
        let err =
            namespace(Scope::Workspace, &Context::new("x".repeat(40), "e"), &caps).unwrap_err();
        assert!(
            matches!(err, RecordError::ScopeTooLong { max: 32, .. }),
            "{err}"
        );
    }
}
