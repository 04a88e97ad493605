//! Whole files: plain or gzip (chosen by the magic bytes), header lines anywhere, any
//! bytes. The reader must end without panicking, whatever it is given.

#![no_main]

use cachalot_telemetry::parse::LogReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = LogReader::new(data, "fuzz");
    let mut items = 0usize;
    while let Some(item) = reader.next_line() {
        if let Ok(line) = item {
            let _ = line.to_record();
        }
        items += 1;
        assert!(items <= data.len() + 1);
    }
});
