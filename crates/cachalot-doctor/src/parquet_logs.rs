//! Reading standard logging (v2) Parquet files: each row group's columns are decoded with the
//! `parquet` crate's column readers and every row rewritten into the standard layout
//! ([`crate::formats::Rewriter`]), a block of lines per row group.
//!
//! Columns are matched by field name (`cs(Host)`, `timestamp(ms)`) or by the name Athena's
//! CloudFront tables use (`cs_host`, `timestamp_ms`), case aside; other columns are skipped.
//! Strings, integers, floats and booleans are read as text; a null is `-` (absent). A file whose
//! footer or pages cannot be read (truncated, not Parquet after all, a compression codec this
//! build does not read) is an error naming the file; the row groups before it are kept.

use crate::formats::{Rewriter, Target, realtime_target, standard_target};
use cachalot_telemetry::parse::FieldMap;
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Rows decoded at a time from each column.
const BATCH: usize = 16 * 1024;

/// The value of one row of one column, as text.
#[derive(Default)]
struct ColumnValues {
    /// Values (non-null ones only), as bytes.
    values: Vec<Vec<u8>>,
    /// Definition level of each row (0: null), when the column is optional.
    levels: Vec<i16>,
    optional: bool,
}

impl ColumnValues {
    fn row(&self, row: usize, next_value: &mut usize) -> &[u8] {
        if self.optional && self.levels.get(row).copied().unwrap_or(0) == 0 {
            return b"-";
        }
        let v = self.values.get(*next_value).map_or(&b"-"[..], Vec::as_slice);
        *next_value += 1;
        v
    }
}

/// Reads the Parquet file at `path` and hands each block of rewritten lines to `send` (which
/// returns false to stop). Returns the rows read.
pub fn read_file(path: &Path, mut send: impl FnMut(Vec<u8>, Arc<FieldMap>) -> bool) -> Result<u64, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let reader = SerializedFileReader::new(file).map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let mut wanted: Vec<(usize, Target)> = Vec::new();
    for (i, column) in schema.columns().iter().enumerate() {
        let name = column.name();
        let target = standard_target(name).or_else(|| realtime_target(name));
        if let Some(t) = target
            && t != Target::Ignore
            && column.max_rep_level() == 0
        {
            wanted.push((i, t));
        }
    }
    if wanted.is_empty() {
        return Err("no column names a CloudFront log field (date, time, cs-uri-stem, …)".into());
    }
    let mut rewriter = Rewriter::default();
    let mut rows = 0u64;
    let mut line = Vec::new();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| format!("row group {g}: {e}"))?;
        let total = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
        let mut readers = Vec::with_capacity(wanted.len());
        for (i, _) in &wanted {
            let r = group.get_column_reader(*i).map_err(|e| format!("row group {g}, column {i}: {e}"))?;
            readers.push((r, schema.column(*i).max_def_level() > 0));
        }
        let mut done = 0usize;
        while done < total {
            let want = BATCH.min(total - done);
            let mut columns: Vec<ColumnValues> = Vec::with_capacity(readers.len());
            for (r, optional) in &mut readers {
                let c = read_batch(r, *optional, want).map_err(|e| format!("row group {g}: {e}"))?;
                columns.push(c);
            }
            let mut block = Vec::with_capacity(want * 256);
            let mut map: Option<Arc<FieldMap>> = None;
            let mut cursors = vec![0usize; columns.len()];
            for row in 0..want {
                rewriter.reset();
                for (k, (_, target)) in wanted.iter().enumerate() {
                    let v = columns[k].row(row, &mut cursors[k]);
                    if let Err(e) = rewriter.set(*target, v) {
                        return Err(format!("row {}: {e}", rows + row as u64 + 1));
                    }
                }
                let m = rewriter.finish(&mut line);
                match &map {
                    Some(prev) if !Arc::ptr_eq(prev, &m) && **prev != *m => {
                        // Every row has the same columns; a timestamp-only row without its value
                        // changes them: send what came before under its own map.
                        if !send(std::mem::take(&mut block), prev.clone()) {
                            return Ok(rows);
                        }
                        map = Some(m);
                    }
                    Some(_) => {}
                    None => map = Some(m),
                }
                block.extend_from_slice(&line);
                block.push(b'\n');
            }
            rows += want as u64;
            done += want;
            if let Some(m) = map
                && !send(block, m)
            {
                return Ok(rows);
            }
        }
    }
    Ok(rows)
}

/// Reads `want` rows of one column as text.
fn read_batch(reader: &mut ColumnReader, optional: bool, want: usize) -> Result<ColumnValues, String> {
    let mut out = ColumnValues { optional, ..ColumnValues::default() };
    let mut levels: Vec<i16> = Vec::with_capacity(want);
    let err = |e: parquet::errors::ParquetError| e.to_string();
    macro_rules! read {
        ($r:expr, $values:ident, $to_text:expr) => {{
            let mut $values = Vec::with_capacity(want);
            let mut got = 0;
            while got < want {
                let (records, _, _) = $r
                    .read_records(want - got, if optional { Some(&mut levels) } else { None }, None, &mut $values)
                    .map_err(err)?;
                if records == 0 {
                    return Err(format!("the column ends after {got} of {want} rows (a cut file?)"));
                }
                got += records;
            }
            out.values = $values.iter().map($to_text).collect();
        }};
    }
    match reader {
        ColumnReader::ByteArrayColumnReader(r) => read!(r, v, |b: &ByteArray| b.data().to_vec()),
        ColumnReader::FixedLenByteArrayColumnReader(r) => {
            read!(r, v, |b: &parquet::data_type::FixedLenByteArray| b.data().to_vec())
        }
        ColumnReader::Int32ColumnReader(r) => read!(r, v, |x: &i32| x.to_string().into_bytes()),
        ColumnReader::Int64ColumnReader(r) => read!(r, v, |x: &i64| x.to_string().into_bytes()),
        ColumnReader::FloatColumnReader(r) => read!(r, v, |x: &f32| x.to_string().into_bytes()),
        ColumnReader::DoubleColumnReader(r) => read!(r, v, |x: &f64| x.to_string().into_bytes()),
        ColumnReader::BoolColumnReader(r) => read!(r, v, |x: &bool| x.to_string().into_bytes()),
        ColumnReader::Int96ColumnReader(_) => return Err("INT96 columns are not read".into()),
    }
    out.levels = levels;
    Ok(out)
}
