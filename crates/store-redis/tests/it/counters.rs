//! The incr script adds short counters as doubles and long ones in two exact parts:
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

/// Stored value and delta of every magnitude and sign, against Rust's `checked_add`:
/// the two-part arithmetic must agree on every sum, every carry and every overflow.
#[tokio::test]
async fn counter_arithmetic_matches_checked_add_across_the_range() {
    let Some(store) = crate::services::standalone().await else {
        return;
    };
    let ns = format!("counters/{}", fastrand::u64(..));
    let mut values = vec![
        0,
        1,
        -1,
        999_999_999,
        -999_999_999,
        1_000_000_000,
        -1_000_000_000,
        1_000_000_001,
        -1_000_000_001,
        999_999_999_999_999,
        1_000_000_000_000_000,
        i64::MAX,
        i64::MAX - 1,
        i64::MIN,
        i64::MIN + 1,
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..40 {
        let digits = rng.u32(1..19);
        let magnitude = rng.i64(0..10_i64.pow(digits));
        values.push(if rng.bool() { magnitude } else { -magnitude });
    }
    for (i, &start) in values.iter().enumerate() {
        for (j, &delta) in values.iter().enumerate().filter(|(j, _)| (i + j) % 3 == 0) {
            let key = format!("c{i}-{j}");
            store
                .set(&ns, &key, start.to_string().into(), SetOptions::always())
                .await
                .unwrap();
            let out = store.incr(&ns, &key, delta, None).await;
            let read = store.get(&ns, &key).await.unwrap().unwrap();
            match start.checked_add(delta) {
                Some(sum) => {
                    assert_eq!(out.unwrap().value, sum, "{start} + {delta}");
                    assert_eq!(read.value, sum.to_string(), "stored {start} + {delta}");
                }
                None => {
                    assert!(
                        matches!(out, Err(store_core::Error::CounterOverflow)),
                        "{start} + {delta} must overflow, got {out:?}"
                    );
                    assert_eq!(read.value, start.to_string(), "kept after overflow");
                }
            }
            store.delete(&ns, &key, Default::default()).await.unwrap();
        }
    }
}

/// Redis's own rule for what a counter is: canonical decimals within 64 bits only.
#[tokio::test]
async fn non_canonical_decimals_are_not_counters() {
    let Some(store) = crate::services::standalone().await else {
        return;
    };
    let ns = format!("counters/{}", fastrand::u64(..));
    for (i, stored) in [
        "",
        "007",
        "-0",
        "+5",
        " 5",
        "5 ",
        "1e3",
        "0x10",
        "--1",
        "-",
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999",
        "123456789012345678901",
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("n{i}");
        store
            .set(&ns, &key, stored.into(), SetOptions::always())
            .await
            .unwrap();
        let out = store.incr(&ns, &key, 1, None).await;
        assert!(
            matches!(out, Err(store_core::Error::NotACounter)),
            "{stored:?} is not a counter, got {out:?}"
        );
        let read = store.get(&ns, &key).await.unwrap().unwrap();
        assert_eq!(read.value, stored, "kept");
    }
}
