#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshchat_core::sim::fuzz::replication(data));
