#![no_main]

use std::sync::LazyLock;

use custody_fuzz::Fixture;
use libfuzzer_sys::fuzz_target;

static FIXTURE: LazyLock<Fixture> = LazyLock::new(Fixture::new);

fuzz_target!(|data: &[u8]| {
    custody_fuzz::policy_parse(&FIXTURE, data);
});
