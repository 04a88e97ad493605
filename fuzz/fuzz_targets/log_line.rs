//! One log line under an arbitrary `#Fields:` layout: splitting, every accessor and the
//! typed conversion must never panic. Input: `<fields line>\n<data line>`, or just a data
//! line read with CloudFront's standard layout.

#![no_main]

use cachalot_telemetry::Field;
use cachalot_telemetry::parse::{self, FieldMap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (map, line) = match text.split_once('\n') {
        Some((header, line)) => (FieldMap::from_fields_line(header), line),
        None => (FieldMap::standard(), text),
    };
    let _ = parse::parse_record(line);
    if let Ok(l) = parse::parse_line(line, &map) {
        for field in Field::ALL {
            let _ = l.text(field);
            let _ = l.number(field);
            let _ = l.seconds(field);
            let _ = l.result_type(field);
        }
        let _ = (l.timestamp(), l.status(), l.client_ip());
        if let Ok(record) = l.to_record() {
            // What was read can be written back.
            let _ = cachalot_telemetry::format::record_line(&record);
        }
    }
});
