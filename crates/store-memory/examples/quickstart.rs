//! `cargo run -p store-memory --example quickstart`: the contract on the embedded store,
//! opened from a URL the way a service picks its backend from configuration.

use std::time::Duration;

use store_core::{Bytes, DeleteCondition, SchemeRegistry, SetOptions, SetOutcome, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() -> store_core::Result<()> {
    let registry = SchemeRegistry::global();
    store_memory::register(registry);
    let url = std::env::var("FLEETSTATE_URL").unwrap_or_else(|_| "memory://".to_owned());
    let store = registry.open(&url).await?;

    // Insert-only: the first worker to claim a job wins, for 30 seconds.
    let claim = SetOptions::if_absent().with_ttl(Duration::from_secs(30));
    for worker in ["worker-a", "worker-b"] {
        let outcome = store
            .set("jobs", "job-42", Bytes::from(worker), claim)
            .await?;
        match outcome {
            SetOutcome::Written(_) => println!("{worker}: claimed job-42"),
            SetOutcome::Rejected { current } => {
                let owner = current.map(|e| String::from_utf8_lossy(&e.value).into_owned());
                println!("{worker}: job-42 already claimed by {owner:?}");
            }
        }
    }

    // A fleet-wide counter: the window starts at the first hit and never slides.
    for _ in 0..3 {
        let hits = store
            .incr(
                "ratelimit#api",
                "client-7",
                1,
                Some(Duration::from_secs(60)),
            )
            .await?;
        println!("client-7: {} hits this minute", hits.value);
    }

    // Compare-and-set: read, change, write back only if nobody wrote in between.
    store
        .set(
            "config",
            "flags",
            Bytes::from_static(b"v1"),
            SetOptions::always(),
        )
        .await?;
    let current = store.get("config", "flags").await?.expect("just written");
    let update = SetOptions::if_version(current.version);
    let outcome = store
        .set("config", "flags", Bytes::from_static(b"v2"), update)
        .await?;
    println!("config/flags updated by CAS: {}", outcome.is_written());

    // Paginated listing with an opaque cursor.
    for user in ["ada", "grace", "linus", "margaret"] {
        store
            .set("users", user, Bytes::new(), SetOptions::always())
            .await?;
    }
    let mut cursor = None;
    loop {
        let page = store.list("users", "", cursor.as_ref(), 3).await?;
        println!("users page: {:?}", page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    let removed = store
        .delete("users", "linus", DeleteCondition::Always)
        .await?;
    println!("deleted users/linus: {removed}");
    Ok(())
}
