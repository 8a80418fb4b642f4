#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshchat::fuzz::mesh_frame(data));
