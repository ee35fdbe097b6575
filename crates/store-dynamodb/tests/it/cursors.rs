//! Forged cursors are `InvalidCursor` before any request (DynamoDB would answer
//! `ValidationException` for an empty or foreign start key), and deferred keys a cursor
//! carries are handed out only when they are live items.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use store_core::{Cursor, Error, SetOptions, Store};
use store_dynamodb::TableLayout;

fn forged(text: &str) -> Cursor {
    Cursor::from(URL_SAFE_NO_PAD.encode(text))
}

#[tokio::test]
async fn forged_start_keys_are_refused_and_forged_keys_dropped() {
    for (table, layout) in [
        ("fleetstate-simple", TableLayout::default()),
        ("fleetstate-composite", TableLayout::composite("pk", "sk")),
    ] {
        let Some(store) = crate::support::store(table, layout).await else {
            return;
        };
        let ns = format!("cursors/{}", fastrand::u64(..));
        store
            .set(&ns, "real", "v".into(), SetOptions::always())
            .await
            .unwrap();
        let none = "\u{1}";
        for (what, start) in [
            ("an empty partition key", format!("\n{none}")),
            ("another namespace", "other-ns\nreal".to_owned()),
            ("no start key at all", format!("{none}\n{none}")),
            ("an empty sort key", format!("{ns}\n")),
        ] {
            let err = store
                .list(&ns, "", Some(&forged(&format!("d1\nmore\n{start}"))), 10)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidCursor(_)),
                "{table}, {what}: {err:?}"
            );
        }
        let page = store
            .list(
                &ns,
                "",
                Some(&forged(&format!(
                    "d1\nend\n{none}\n{none}\nreal\nnever-written\nreal"
                ))),
                10,
            )
            .await
            .unwrap();
        assert_eq!(page.keys, ["real"], "{table}: only live keys, once");
        let err = store
            .list(
                &ns,
                "r",
                Some(&forged(&format!("d1\nend\n{none}\n{none}\nother"))),
                10,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCursor(_)), "{table}: {err:?}");
        store.clear(&ns, "").await.unwrap();
    }
}
