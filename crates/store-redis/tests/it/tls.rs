//! `rediss://` for real: a Redis serving TLS with a certificate of a CA made for the
//! run, reached through `tls_ca_file`, in a binary that also links store-dynamodb (two
//! rustls crypto providers, where relying on the process default panics).

use std::time::Duration;

use store_core::{Error, SchemeRegistry, SetOptions, Store};
use store_redis::RedisStoreBuilder;

/// Both providers are compiled into this test binary: the store must not rely on
/// rustls picking one.
fn two_providers_are_linked() {
    let _ = store_dynamodb::DynamoStoreBuilder::from_url("dynamodb://linked-in");
}

#[tokio::test]
async fn rediss_urls_connect_with_the_given_ca_through_the_registry() {
    two_providers_are_linked();
    let Some(url) = crate::services::tls_url() else {
        return;
    };
    let registry = SchemeRegistry::new();
    store_redis::register(&registry);
    let store = registry.open(&url).await.expect("TLS connection");
    let ns = format!("tls/{}", fastrand::u64(..));
    store
        .set(&ns, "k", "v".into(), SetOptions::always())
        .await
        .unwrap();
    assert_eq!(store.get(&ns, "k").await.unwrap().unwrap().value, "v");
    store.delete(&ns, "k", Default::default()).await.unwrap();
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_with_a_clear_error() {
    two_providers_are_linked();
    let Some(url) = crate::services::tls_url() else {
        return;
    };
    // The same server, trusting the system's CAs only: its certificate is unknown.
    let untrusted = url.split('?').next().unwrap().to_owned();
    let err = RedisStoreBuilder::from_url(&untrusted)
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .await
        .map(drop)
        .unwrap_err();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert!(err.to_string().contains("tls_ca_file"), "{err}");
}

#[tokio::test]
async fn a_missing_or_empty_ca_file_is_misconfigured_before_connecting() {
    two_providers_are_linked();
    let empty = std::env::temp_dir().join(format!("fleetstate-empty-{}.pem", fastrand::u64(..)));
    std::fs::write(&empty, "").unwrap();
    for (file, needle) in [
        (
            "/nonexistent/ca.pem".to_owned(),
            "cannot read CA certificates",
        ),
        (empty.display().to_string(), "holds no PEM certificate"),
    ] {
        // Port 9 is never a Redis here: the error must come before any connection.
        let url = format!("rediss://127.0.0.1:9?tls_ca_file={file}");
        let err = RedisStoreBuilder::from_url(&url)
            .unwrap()
            .build()
            .await
            .map(drop)
            .unwrap_err();
        assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let _ = std::fs::remove_file(empty);
    let err = RedisStoreBuilder::from_url("redis://h?tls_ca_file=/x")
        .map(drop)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown redis:// option `tls_ca_file`"),
        "{err}"
    );
}
