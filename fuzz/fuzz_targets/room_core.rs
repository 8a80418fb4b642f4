#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshchat_core::fuzz::room_core(data));
