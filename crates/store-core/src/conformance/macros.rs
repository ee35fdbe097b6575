//! The macros of the suite: checks inside cases, and the generation of one test per
//! case from the lists each `cases/<group>.rs` keeps beside its cases.

/// Fails the case with a message unless `cond` holds.
#[macro_export]
#[doc(hidden)]
macro_rules! __ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::conformance::Failure(format!($($fmt)+)));
        }
    };
}

/// Fails the case unless `left == right`, showing both.
#[macro_export]
#[doc(hidden)]
macro_rules! __ensure_eq {
    ($left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    return Err($crate::conformance::Failure(format!(
                        "{}\n  left: {:?}\n right: {:?}", format!($($fmt)+), l, r
                    )));
                }
            }
        }
    };
}

pub(crate) use crate::{__ensure as ensure, __ensure_eq as ensure_eq};

/// Generates one `#[tokio::test]` per conformance case, in one module per group
/// (`basic::get_missing_returns_none`, ...).
///
/// The argument is an expression evaluated afresh in every test, yielding a future of a
/// store, a [`Subject`](crate::conformance::Subject), or an `Option` of either (`None`:
/// the service is not available here). Names in scope where the macro is called are in
/// scope in the expression.
///
/// ```text
/// mod memory {
///     store_core::conformance_tests!(async { store_memory::MemoryStore::new() });
/// }
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($subject:expr $(,)?) => {
        $crate::__conformance_group_basic! { tests [$subject] }
        $crate::__conformance_group_conditions! { tests [$subject] }
        $crate::__conformance_group_ttl! { tests [$subject] }
        $crate::__conformance_group_incr! { tests [$subject] }
        $crate::__conformance_group_concurrency! { tests [$subject] }
        $crate::__conformance_group_list! { tests [$subject] }
        $crate::__conformance_group_clear! { tests [$subject] }
        $crate::__conformance_group_advance! { tests [$subject] }
        $crate::__conformance_group_validation! { tests [$subject] }
        $crate::__conformance_group_properties! { tests [$subject] }
        $crate::__conformance_group_linearizability! { tests [$subject] }
    };
}

/// Expands one group's list: `list` to a `Vec<Case<S>>`, `tests` to a module of tests.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_emit {
    (list [] $group:ident: $($name:ident),* $(,)?) => {
        vec![$(
            $crate::conformance::Case::new(
                stringify!($group),
                stringify!($name),
                |cx| ::std::boxed::Box::pin($crate::conformance::cases::$group::$name(cx)),
            )
        ),*]
    };
    (tests [$subject:expr] $group:ident: $($name:ident),* $(,)?) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    $crate::conformance::run_named(stringify!($name), $subject).await;
                }
            )*
        }
    };
}
