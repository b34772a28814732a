//! Embedded time-series store.
#![deny(missing_docs)]

mod bstream;
mod error;
mod xor;

pub use crate::{
    error::Error,
    xor::{SAMPLES_PER_CHUNK, XorChunk, XorIter, decode_chunk},
};
