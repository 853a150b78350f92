//! What the tests (`tests/`) and the fuzz targets (`fuzz/`) of `handles` share, written once:
//!
//! * [`layout`]: the documented bit layout of a handle, to decode handles and forge them field
//!   by field;
//! * [`Drops`], [`Tracked`] and [`Item`]: values that count their drops and catch a read after
//!   their drop (and, for [`Item`], a lookup that reached another entry);
//! * [`XorShift`]: a small deterministic random number generator.
#![deny(missing_docs)]

pub mod layout;
mod rng;
mod values;

pub use rng::XorShift;
pub use values::{Drops, Item, Tracked};
