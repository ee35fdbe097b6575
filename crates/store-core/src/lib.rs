#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod capabilities;
mod clock;
mod error;
pub mod layer;
pub mod raw;
mod registry;
mod store;
mod types;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod testing;

pub use capabilities::Capabilities;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BoxError, Delivery, Error, Result};
pub use layer::Layer;
pub use registry::{Opener, SchemeRegistry, StoreBuilder, open};
pub use store::{DynStore, SharedStore, Store, StoreExt};
pub use types::{
    Advance, Advanced, Condition, Cursor, DeleteCondition, Entry, Floor, IncrOutcome, ListPage,
    SetOptions, SetOutcome, Timestamp, Version,
};

/// Re-exported so backends and users name the same `Bytes`.
pub use bytes::Bytes;
