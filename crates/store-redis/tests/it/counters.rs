//! The incr script adds small counters in Lua (doubles) and big ones with HINCRBY:
//! both sides of that line must be exact.

use store_core::{SetOptions, Store};

#[tokio::test]
async fn counters_stay_exact_on_both_sides_of_the_lua_double_limit() {
    let Some(store) = crate::services::standalone().await else {
        return;
    };
    let ns = format!("counters/{}", fastrand::u64(..));
    let cases: [(&str, i64, i64); 5] = [
        // Fast path at its widest: 15 characters each.
        (
            "999999999999999",
            999_999_999_999_999,
            1_999_999_999_999_998,
        ),
        ("-99999999999999", -99_999_999_999_999, -199_999_999_999_998),
        // 2^53 - 1 + 2: a double would round to 9007199254740992.
        ("9007199254740991", 2, 9_007_199_254_740_993),
        ("1", 9_007_199_254_740_992, 9_007_199_254_740_993),
        ("-9223372036854775807", -1, i64::MIN),
    ];
    for (i, (start, delta, expected)) in cases.into_iter().enumerate() {
        let key = format!("c{i}");
        store
            .set(&ns, &key, start.into(), SetOptions::always())
            .await
            .unwrap();
        let out = store.incr(&ns, &key, delta, None).await.unwrap();
        assert_eq!(out.value, expected, "{start} + {delta}");
        let read = store.get(&ns, &key).await.unwrap().unwrap();
        assert_eq!(
            read.value,
            expected.to_string(),
            "stored form of {start} + {delta}"
        );
        store.delete(&ns, &key, Default::default()).await.unwrap();
    }
}
