#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshchat::tools::fuzz::server_frames(data));
