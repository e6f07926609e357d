//! `sqlx::migrate!` embeds the migrations when the crate compiles, but cargo does not look
//! for files added to the folder: a new migration would be left out of an incremental
//! build until something else changed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
