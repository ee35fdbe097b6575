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
use std::sync::{Arc, OnceLock, RwLock};

use futures::future::BoxFuture;
use url::Url;

use crate::{Error, Result, SharedStore};

/// Opens a store for one scheme from a parsed URL.
pub trait Opener: Send + Sync + 'static {
    /// Builds the store the URL describes, connecting if the backend needs to.
    fn open(&self, url: &Url) -> BoxFuture<'static, Result<SharedStore>>;
}

impl<F> Opener for F
where
    F: Fn(&Url) -> BoxFuture<'static, Result<SharedStore>> + Send + Sync + 'static,
{
    fn open(&self, url: &Url) -> BoxFuture<'static, Result<SharedStore>> {
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

    /// The registered schemes, sorted.
    pub fn schemes(&self) -> Vec<String> {
        let openers = self.openers.read().unwrap_or_else(|p| p.into_inner());
        openers.keys().cloned().collect()
    }

    /// Opens the store `url` describes.
    ///
    /// Errors: [`Error::Misconfigured`] when the URL does not parse or no backend is
    /// registered for its scheme; otherwise whatever the backend's opener returns.
    pub async fn open(&self, url: &str) -> Result<SharedStore> {
        let parsed = Url::parse(url)
            .map_err(|e| Error::Misconfigured(format!("`{url}` is not a valid store URL: {e}")))?;
        let opener = {
            let openers = self.openers.read().unwrap_or_else(|p| p.into_inner());
            openers.get(parsed.scheme()).cloned()
        };
        match opener {
            Some(opener) => opener.open(&parsed).await,
            None => Err(Error::Misconfigured(format!(
                "no backend is registered for `{}://` (registered: {}); add the backend \
                 crate and call its `register` function",
                parsed.scheme(),
                describe(&self.schemes()),
            ))),
        }
    }
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
