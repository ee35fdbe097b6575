//! Opening a store from a URL, with backends plugging in their schemes.
//!
//! `store-core` names no backend. Each backend crate registers its schemes
//! (`store_memory::register(&registry)` adds `memory://`), and [`SchemeRegistry::open`]
//! dispatches on the URL's scheme. A process-wide registry is available through
//! [`SchemeRegistry::global`] and [`open`].
//!
//! ```
//! use store_core::{Error, SchemeRegistry};
//! # tokio_test_block_on(async {
//! let registry = SchemeRegistry::new();
//! let err = registry.open("nosuch://x").await.unwrap_err();
//! assert!(matches!(err, Error::Misconfigured(_)));
//! assert!(err.to_string().contains("no backend is registered for `nosuch://`"));
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};

use futures::future::BoxFuture;

use crate::{Error, Result, SharedStore, Store, StoreExt};

/// How every backend is built: `from_url` (or the backend's own constructors, from
/// settings or a client the user already has), then `build().await`.
///
/// Each backend's builder implements it with inherent methods of the same names, so
/// `XStoreBuilder::from_url(url)?.build().await?` reads the same for every backend, and
/// [`SchemeRegistry::register_builder`] registers any of them.
pub trait StoreBuilder: Sized + Send + 'static {
    /// The store it builds.
    type Store: Store + 'static;

    /// The URL schemes it reads (`["redis", "rediss"]`).
    const SCHEMES: &'static [&'static str];

    /// Reads a store URL: checks its form and every option, connects nothing.
    ///
    /// Errors: [`Error::Misconfigured`] for a malformed URL, another scheme, an
    /// undecodable or invalid value, or an unknown option (named with the valid ones).
    fn from_url(url: &str) -> Result<Self>;

    /// Builds the store, connecting where the backend needs to.
    fn build(self) -> impl Future<Output = Result<Self::Store>> + Send;
}

/// Opens a store for one scheme.
///
/// It receives the whole URL as written: some backends' URLs are not RFC 3986 URLs
/// (`redis-cluster://h1:7000,h2:7001`), so each opener parses its own.
pub trait Opener: Send + Sync + 'static {
    /// Builds the store the URL describes, connecting if the backend needs to.
    fn open(&self, url: &str) -> BoxFuture<'static, Result<SharedStore>>;
}

impl<F> Opener for F
where
    F: Fn(&str) -> BoxFuture<'static, Result<SharedStore>> + Send + Sync + 'static,
{
    fn open(&self, url: &str) -> BoxFuture<'static, Result<SharedStore>> {
        self(url)
    }
}

/// A table from URL scheme to the backend that opens it.
#[derive(Default)]
pub struct SchemeRegistry {
    openers: RwLock<BTreeMap<String, Arc<dyn Opener>>>,
}

impl fmt::Debug for SchemeRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemeRegistry")
            .field("schemes", &self.schemes())
            .finish()
    }
}

impl SchemeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry used by [`open`].
    pub fn global() -> &'static SchemeRegistry {
        static GLOBAL: OnceLock<SchemeRegistry> = OnceLock::new();
        GLOBAL.get_or_init(SchemeRegistry::new)
    }

    /// Makes `scheme` open through `opener`, replacing any earlier registration.
    pub fn register(&self, scheme: &str, opener: impl Opener) {
        let mut openers = self.openers.write().unwrap_or_else(|p| p.into_inner());
        openers.insert(scheme.to_ascii_lowercase(), Arc::new(opener));
    }

    /// Registers every scheme `B` reads, opening through `B::from_url(url)?.build()`.
    pub fn register_builder<B: StoreBuilder>(&self) {
        for scheme in B::SCHEMES {
            self.register(scheme, |url: &str| {
                let builder = B::from_url(url);
                Box::pin(async move { Ok(builder?.build().await?.into_shared()) })
                    as BoxFuture<'static, _>
            });
        }
    }

    /// The registered schemes, sorted.
    pub fn schemes(&self) -> Vec<String> {
        let openers = self.openers.read().unwrap_or_else(|p| p.into_inner());
        openers.keys().cloned().collect()
    }

    /// Opens the store `url` describes.
    ///
    /// Errors: [`Error::Misconfigured`] when the URL has no `scheme://` or no backend is
    /// registered for its scheme; otherwise whatever the backend's opener returns.
    pub async fn open(&self, url: &str) -> Result<SharedStore> {
        let scheme = scheme_of(url).ok_or_else(|| {
            Error::Misconfigured(format!(
                "`{url}` is not a valid store URL: expected `scheme://...`"
            ))
        })?;
        let opener = {
            let openers = self.openers.read().unwrap_or_else(|p| p.into_inner());
            openers.get(&scheme).cloned()
        };
        match opener {
            Some(opener) => opener.open(url).await,
            None => Err(Error::Misconfigured(format!(
                "no backend is registered for `{scheme}://` (registered: {}); add the backend \
                 crate and call its `register` function",
                describe(&self.schemes()),
            ))),
        }
    }
}

/// The lower-cased scheme of `url` (RFC 3986 scheme characters before `://`).
fn scheme_of(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once("://")?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    valid.then(|| scheme.to_ascii_lowercase())
}

fn describe(schemes: &[String]) -> String {
    if schemes.is_empty() {
        "none".to_owned()
    } else {
        schemes.join(", ")
    }
}

/// Opens `url` through [`SchemeRegistry::global`].
pub async fn open(url: &str) -> Result<SharedStore> {
    SchemeRegistry::global().open(url).await
}
