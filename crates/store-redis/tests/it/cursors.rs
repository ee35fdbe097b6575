//! Forged cursors are `InvalidCursor` before any command: a `SCAN` number that is not a
//! `u64` (Redis would answer `ERR invalid cursor`), deferred keys that were never written.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use store_core::{Cursor, Error, SetOptions, Store};

fn forged(text: &str) -> Cursor {
    Cursor::from(URL_SAFE_NO_PAD.encode(text))
}

#[tokio::test]
async fn forged_scan_numbers_and_keys_are_refused_or_dropped() {
    for url in [crate::services::redis_url(), crate::services::cluster_url()] {
        let Some(url) = url else { continue };
        let store = crate::services::connect(&url, "").await;
        let ns = format!("cursors/{}", fastrand::u64(..));
        store
            .set(&ns, "real", "v".into(), SetOptions::always())
            .await
            .unwrap();
        // A real cursor's node field, so only the SCAN number is forged.
        let page = store.list(&ns, "", None, 1).await.unwrap();
        let node = match page.cursor {
            Some(c) => {
                let text = String::from_utf8(URL_SAFE_NO_PAD.decode(c.as_str()).unwrap()).unwrap();
                text.split('\n').nth(1).unwrap().to_owned()
            }
            None => {
                if store.is_cluster() {
                    "127.0.0.1:1".into()
                } else {
                    String::new()
                }
            }
        };
        for scan in ["99999999999999999999999", "-1", "+5", "", "0x10"] {
            let err = store
                .list(&ns, "", Some(&forged(&format!("r1\n{node}\n{scan}"))), 10)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidCursor(_)),
                "{url} scan {scan:?}: {err:?}"
            );
        }
        // Deferred keys: one real, one never written, one with a control character.
        let page = store
            .list(&ns, "", Some(&forged("r1\n-\n0\nreal\nnever-written")), 10)
            .await
            .unwrap();
        assert_eq!(
            page.keys,
            ["real"],
            "{url}: only keys that exist are handed out"
        );
        let err = store
            .list(&ns, "", Some(&forged("r1\n-\n0\nbad\u{7}key")), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCursor(_)), "{url}: {err:?}");
        store.clear(&ns, "").await.unwrap();
    }
}
