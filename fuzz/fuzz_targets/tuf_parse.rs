#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

// Not in the library: the stable test in custody-tuf includes this file alone, without the
// attestation crates the other bodies need.
#[path = "../src/tuf.rs"]
mod tuf;

static FIXTURE: LazyLock<tuf::TufFixture> = LazyLock::new(tuf::TufFixture::new);

fuzz_target!(|data: &[u8]| {
    tuf::tuf_parse(&FIXTURE, data);
});
