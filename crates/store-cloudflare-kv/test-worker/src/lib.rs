//! Exposes a `CloudflareKvStore` on the `KV` binding over HTTP, one operation per
//! request (`store_cloudflare_kv::testing::serve`), for the native test process.

use worker::{Context, Env, Error, Request, Response, Result, event};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let store = store_cloudflare_kv::CloudflareKvStoreBuilder::from_env(&env, "KV")
        .map_err(|e| Error::RustError(e.to_string()))?
        .build();
    store_cloudflare_kv::testing::serve(req, &store).await
}
