//! Reading standard logging (v2) Parquet files: each row group's columns are decoded with the
//! `parquet` crate's column readers and every row rewritten into the standard layout
//! ([`crate::formats::Rewriter`]), in blocks of lines. Row groups are decoded apart, by the
//! worker threads of [`crate::logs`].
//!
//! Columns are matched by field name (`cs(Host)`, `timestamp(ms)`) or by the name Athena's
//! CloudFront tables use (`cs_host`, `timestamp_ms`), case aside; other columns are skipped.
//! Strings, integers, floats and booleans are read as text; a null is `-` (absent). A file whose
//! footer cannot be read (truncated, not Parquet after all) is an error naming the file; a row
//! group whose pages cannot be read (cut, corrupt, a compression codec this build does not read)
//! is one naming the file and the row group, and the other row groups are kept.

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

/// The values of one column for a batch of rows, as text, without a copy per value: byte
/// arrays are kept as decoded (slices of the page), other types written one after the other.
#[derive(Default)]
struct ColumnValues {
    /// Byte-array values (non-null ones only).
    arrays: Vec<ByteArray>,
    /// Other values as text (non-null ones only), end to end; `ends[i]` is where value i ends.
    text: Vec<u8>,
    ends: Vec<usize>,
    /// Definition level of each row (0: null), when the column is optional.
    levels: Vec<i16>,
    optional: bool,
}

impl ColumnValues {
    fn row(&self, row: usize, next_value: &mut usize) -> &[u8] {
        if self.optional && self.levels.get(row).copied().unwrap_or(0) == 0 {
            return b"-";
        }
        let i = *next_value;
        *next_value += 1;
        if let Some(a) = self.arrays.get(i) {
            return a.data();
        }
        let start = if i == 0 { 0 } else { self.ends.get(i - 1).copied().unwrap_or(usize::MAX) };
        match self.ends.get(i) {
            Some(&end) => self.text.get(start..end).unwrap_or(b"-"),
            None => b"-",
        }
    }
}

/// A Parquet file opened for reading: its footer and the columns that name log fields. Row
/// groups are read apart ([`ParquetFile::read_group`]), so several threads can decode one file,
/// each through its own `ParquetFile` (a reader keeps one file handle and its position).
pub struct ParquetFile {
    reader: SerializedFileReader<File>,
    /// Column index and what it holds, for the columns read.
    wanted: Vec<(usize, Target)>,
}

impl ParquetFile {
    /// Opens `path` and reads its footer; an error says why it cannot be read.
    pub fn open(path: &Path) -> Result<ParquetFile, String> {
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
        Ok(ParquetFile { reader, wanted })
    }

    /// How many blocks [`ParquetFile::read_group`] hands over for a row group of `rows` rows,
    /// not counting the cuts where the columns change.
    pub fn batches(rows: u64) -> u64 {
        rows.div_ceil(BATCH as u64)
    }

    /// Rows of each row group, in file order.
    pub fn row_groups(&self) -> Vec<u64> {
        self.reader.metadata().row_groups().iter().map(|g| u64::try_from(g.num_rows()).unwrap_or(0)).collect()
    }

    /// Decodes row group `g` (whose first row is the file's row `first_row`, counting from 0) and
    /// hands its rows, rewritten into the standard layout, to `send` as blocks of lines (which
    /// returns false to stop): one block per [`BATCH`] rows (flagged `true`), cut again where the
    /// columns of the rows change (the later parts flagged `false`). An error names the row
    /// group, or the row, that cannot be read.
    pub fn read_group(
        &self,
        g: usize,
        first_row: u64,
        rewriter: &mut Rewriter,
        mut send: impl FnMut(Vec<u8>, Arc<FieldMap>, bool) -> bool,
    ) -> Result<(), String> {
        let schema = self.reader.metadata().file_metadata().schema_descr_ptr();
        let group = self.reader.get_row_group(g).map_err(|e| format!("row group {g}: {e}"))?;
        let total = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
        let mut readers = Vec::with_capacity(self.wanted.len());
        for (i, _) in &self.wanted {
            let r = group.get_column_reader(*i).map_err(|e| format!("row group {g}, column {i}: {e}"))?;
            readers.push((r, schema.column(*i).max_def_level() > 0));
        }
        let mut line = Vec::new();
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
            let mut fresh = true;
            for row in 0..want {
                rewriter.reset();
                for (k, (_, target)) in self.wanted.iter().enumerate() {
                    let v = columns[k].row(row, &mut cursors[k]);
                    if let Err(e) = rewriter.set(*target, v) {
                        return Err(format!("row {}: {e}", first_row + (done + row) as u64 + 1));
                    }
                }
                let m = rewriter.finish(&mut line);
                match &map {
                    Some(prev) if !Arc::ptr_eq(prev, &m) && **prev != *m => {
                        // Every row has the same columns; a timestamp-only row without its value
                        // changes them: send what came before under its own map.
                        if !send(std::mem::take(&mut block), prev.clone(), fresh) {
                            return Ok(());
                        }
                        fresh = false;
                        map = Some(m);
                    }
                    Some(_) => {}
                    None => map = Some(m),
                }
                block.extend_from_slice(&line);
                block.push(b'\n');
            }
            done += want;
            if let Some(m) = map
                && !send(block, m, fresh)
            {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Reads `want` rows of one column as text.
fn read_batch(reader: &mut ColumnReader, optional: bool, want: usize) -> Result<ColumnValues, String> {
    use std::io::Write as _;
    let mut out = ColumnValues { optional, ..ColumnValues::default() };
    let mut levels: Vec<i16> = Vec::with_capacity(want);
    let err = |e: parquet::errors::ParquetError| e.to_string();
    macro_rules! read {
        ($r:expr, $values:expr) => {{
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
        }};
    }
    // Numbers and booleans as their `Display` text, written end to end.
    macro_rules! read_text {
        ($r:expr, $t:ty) => {{
            let mut values: Vec<$t> = Vec::with_capacity(want);
            read!($r, values);
            out.ends.reserve(values.len());
            for v in &values {
                // Writing into a Vec cannot fail.
                let _ = write!(out.text, "{v}");
                out.ends.push(out.text.len());
            }
        }};
    }
    match reader {
        ColumnReader::ByteArrayColumnReader(r) => {
            out.arrays.reserve(want);
            read!(r, out.arrays);
        }
        ColumnReader::FixedLenByteArrayColumnReader(r) => {
            let mut values: Vec<parquet::data_type::FixedLenByteArray> = Vec::with_capacity(want);
            read!(r, values);
            out.ends.reserve(values.len());
            for v in &values {
                out.text.extend_from_slice(v.data());
                out.ends.push(out.text.len());
            }
        }
        ColumnReader::Int32ColumnReader(r) => read_text!(r, i32),
        ColumnReader::Int64ColumnReader(r) => read_text!(r, i64),
        ColumnReader::FloatColumnReader(r) => read_text!(r, f32),
        ColumnReader::DoubleColumnReader(r) => read_text!(r, f64),
        ColumnReader::BoolColumnReader(r) => read_text!(r, bool),
        ColumnReader::Int96ColumnReader(_) => return Err("INT96 columns are not read".into()),
    }
    out.levels = levels;
    Ok(out)
}
