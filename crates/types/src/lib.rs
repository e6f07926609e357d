//! Domain types every Egret service shares, with no I/O: calendar dates in the federation's
//! time zone, the bookkeeping every record carries, and identity documents, phones and
//! emails with their validation and masking.

pub mod date;
pub mod identity;
pub mod record;
pub mod tree;

pub use date::{CivilDate, china_date, now_micros};
pub use record::Meta;
