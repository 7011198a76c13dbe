//! Two builds, as the two parts of the input (the first four bytes, little-endian, give the
//! first part's length): `explain` never
//! panics and stays within its limits; an artifact compared with itself has no differences; and
//! the listed differences never exceed the limit.
#![no_main]

use std::io::Cursor;

use custody_rebuild::{Limits, explain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let at = usize::try_from(u32::from_le_bytes(*head)).unwrap_or(usize::MAX);
    let (released, rebuilt) = rest.split_at(at.min(rest.len()));
    let limits = Limits {
        max_entries: 1_000,
        max_entry_bytes: 1 << 20,
        max_decompressed: 16 << 20,
        max_differences: 8,
    };
    if let Ok(e) = explain(
        &mut Cursor::new(released),
        &mut Cursor::new(rebuilt),
        &limits,
    ) {
        assert!(e.differences.len() <= limits.max_differences, "{e:?}");
    }
    if let Ok(same) = explain(
        &mut Cursor::new(released),
        &mut Cursor::new(released),
        &limits,
    ) {
        assert!(
            same.differences.is_empty(),
            "an artifact differs from itself: {same:?}"
        );
    }
});
