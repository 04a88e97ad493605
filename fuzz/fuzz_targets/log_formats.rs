//! The doctor's readers of every log format: detection from a file's first bytes, then each line
//! rewritten (v2 json, delimited v2 plain / w3c, real-time records) and split, and the whole input
//! written as a Parquet file and read back. Nothing may panic, whatever the bytes.

#![no_main]

use cachalot_doctor::formats::{self, Columns, Plan, Rewriter};
use cachalot_doctor::logs::{self, LineSink, LogInput};
use cachalot_telemetry::Field;
use cachalot_telemetry::parse::{LineError, LogLine, split_line};
use libfuzzer_sys::fuzz_target;

struct Touch;
impl LineSink for Touch {
    fn line(&mut self, line: &LogLine<'_>) -> Result<(), LineError> {
        line.timestamp()?;
        for f in Field::ALL {
            let _ = line.text(f);
        }
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let columns = Columns::from_list("timestamp,cs-host,cs-uri-stem,x-host-header,sc-status").ok();
    for cols in [None, columns.as_ref()] {
        let plan = formats::detect(data, cols);
        let rewrite = match plan {
            Ok(Plan::Rewrite(r)) => r,
            _ => continue,
        };
        let mut rewriter = Rewriter::default();
        let mut out = Vec::new();
        for line in data.split(|b| *b == b'\n') {
            if let Ok(map) = rewriter.rewrite(&rewrite, line, &mut out) {
                let text = String::from_utf8_lossy(&out);
                if let Ok(l) = split_line(&text, &map) {
                    let _ = l.to_record();
                }
            }
        }
    }
    // Whole files, Parquet included (the `PAR1` magic routes them to the Parquet reader).
    let path = std::env::temp_dir().join(format!("cachalot-fuzz-formats-{}", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = logs::read_with(&[LogInput::File(path.clone())], columns.as_ref(), 2, || Touch, None);
        let _ = std::fs::remove_file(&path);
    }
});
