//! Every backend's URL schemes.

use store_core::{Result, SchemeRegistry, SharedStore};

/// A registry with every backend in the tree: `memory://`, `redis://`, `rediss://`,
/// `redis-cluster://`, `rediss-cluster://`, `postgres://`, `postgresql://`, `sqlite://`,
/// `dynamodb://`, `denokv://`, `denokvs://` (and, in test builds, `broken-memory://`).
pub fn all() -> SchemeRegistry {
    let registry = SchemeRegistry::new();
    store_memory::register(&registry);
    store_redis::register(&registry);
    store_postgres::register(&registry);
    store_sqlite::register(&registry);
    store_dynamodb::register(&registry);
    store_denokv::register(&registry);
    #[cfg(feature = "testing")]
    registry.register_builder::<broken::BrokenBuilder>();
    registry
}

/// Whether every open of `url` is a separate, empty store (an in-process database), so
/// instances racing each other must share one opened store.
pub fn is_private(url: &str) -> bool {
    url.starts_with("memory://")
        || url.starts_with("broken-memory://")
        || url == "sqlite::memory:"
        || url.starts_with("sqlite://:memory:")
}

/// Opens `url`, naming the registered schemes when the scheme is unknown.
pub async fn open(registry: &SchemeRegistry, url: &str) -> Result<SharedStore> {
    let url = if url == "sqlite::memory:" {
        "sqlite://:memory:"
    } else {
        url
    };
    registry.open(url).await
}

#[cfg(feature = "testing")]
mod broken {
    //! `broken-memory://`: store-memory behind a client that sends every `incr` twice,
    //! the bug a retrying client without at-most-once sending has. `verify` must catch
    //! it.

    use std::future::Future;

    use store_core::raw::{Call, Forward, Operation};
    use store_core::{Result, StoreBuilder};
    use store_memory::MemoryStore;

    #[derive(Debug)]
    pub(crate) struct Broken(MemoryStore);

    impl Forward for Broken {
        type Inner = MemoryStore;

        fn inner(&self) -> &MemoryStore {
            &self.0
        }

        fn around<T, F, Fut>(
            &self,
            call: Call<'_>,
            run: F,
        ) -> impl Future<Output = Result<T>> + Send
        where
            T: Send,
            F: FnMut() -> Fut + Send,
            Fut: Future<Output = Result<T>> + Send,
        {
            let twice = matches!(call.operation, Operation::Incr);
            let mut run = run;
            async move {
                if twice {
                    run().await?;
                }
                run().await
            }
        }
    }
    store_core::forward_store!(impl[] Broken);

    pub(crate) struct BrokenBuilder;

    impl StoreBuilder for BrokenBuilder {
        type Store = Broken;
        const SCHEMES: &'static [&'static str] = &["broken-memory"];

        fn from_url(_url: &str) -> Result<Self> {
            Ok(BrokenBuilder)
        }

        async fn build(self) -> Result<Broken> {
            Ok(Broken(MemoryStore::new()))
        }
    }
}
