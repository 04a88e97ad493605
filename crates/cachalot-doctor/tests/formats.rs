//! Every log format CloudFront writes, read by `analyze`: the same 120 requests written as a legacy
//! standard log, standard logging (v2) json, plain (`|`, tab and space delimiters), w3c (`;`) and
//! parquet (written by pyarrow), and real-time log records, plain and gzip'd, give identical reports.
//! Then hostile inputs to every reader: a clear error naming the file, never a panic.
//!
//! The fixtures are written by `tests/formats/make_fixtures.py`, which cites the AWS pages it follows:
//! "Standard logging reference" (legacy fields), "Configure standard logging (v2)" (formats, field
//! selection and order, v2-only fields), "Real-time logs" (fields, their order, `timestamp`):
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html>,
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>,
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/real-time-logs.html>.

use cachalot_doctor::analyze::{self, Options};
use cachalot_doctor::formats::Columns;
use cachalot_doctor::logs::{LogInput, LogInputError};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/formats").join(name)
}

fn analyze_one(path: &Path, columns: Option<Columns>, threads: usize) -> Result<serde_json::Value, LogInputError> {
    let options = Options { top: 50, threads, columns };
    let report = analyze::analyze(&[LogInput::File(path.to_path_buf())], None, &options, None)?;
    Ok(serde_json::to_value(&report).unwrap())
}

fn fields(name: &str) -> Columns {
    let list = std::fs::read_to_string(fixture(name)).unwrap();
    Columns::from_list(list.trim()).unwrap()
}

fn realtime() -> Columns {
    let path = fixture("realtime-config.json");
    Columns::from_realtime_config(&path.display().to_string(), &std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn every_format_gives_the_legacy_numbers() {
    let legacy = analyze_one(&fixture("legacy.log"), None, 2).unwrap();
    assert_eq!(legacy["lines"], 120);
    assert_eq!(legacy["bad_lines"], 0, "{legacy:#}");
    assert!(legacy["hits"].as_u64().unwrap() > 10, "{legacy:#}");
    let cases: Vec<(&str, Option<Columns>)> = vec![
        ("legacy.log.gz", None),
        ("v2.json", None),
        ("v2.json.gz", None),
        ("v2-plain-pipe.log", Some(fields("v2-plain-pipe.fields"))),
        ("v2-plain-pipe.log.gz", Some(fields("v2-plain-pipe.fields"))),
        ("v2-plain-tab.log", Some(fields("v2-plain-tab.fields"))),
        ("v2-plain-tab.log.gz", Some(fields("v2-plain-tab.fields"))),
        ("v2-plain-space.log", Some(fields("v2-plain-space.fields"))),
        ("v2-plain-space.log.gz", Some(fields("v2-plain-space.fields"))),
        ("v2-w3c.log", None),
        ("v2-w3c.log.gz", None),
        ("v2.parquet", None),
        ("realtime.log", Some(realtime())),
        ("realtime.log.gz", Some(realtime())),
    ];
    for (name, columns) in cases {
        for threads in [1, 3] {
            let report = analyze_one(&fixture(name), columns.clone(), threads).unwrap();
            assert_eq!(report, legacy, "{name} ({threads} threads) differs from the legacy log");
        }
    }
}

#[test]
fn realtime_fields_listed_in_the_records_order_work_as_the_config_does() {
    let list = realtime().names.join(",");
    let by_list = analyze_one(&fixture("realtime.log"), Some(Columns::from_list(&list).unwrap()), 2).unwrap();
    assert_eq!(by_list, analyze_one(&fixture("legacy.log"), None, 2).unwrap());
}

/// A scratch folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("doctor-formats-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn headerless_records_without_fields_are_an_error_naming_the_file() {
    for (name, what) in
        [("v2-plain-pipe.log", "plain"), ("realtime.log", "real-time"), ("realtime.log.gz", "real-time")]
    {
        let path = fixture(name);
        let e = analyze_one(&path, None, 2).unwrap_err();
        assert_eq!(e.name, path.display().to_string());
        assert!(e.message.contains(what), "{e:?}");
        assert!(e.hint.as_deref().unwrap_or("").contains("--fields"), "{e:?}");
    }
    let dir = scratch("junk");
    let junk = dir.join("notes.txt");
    std::fs::write(&junk, "hello, these are notes\n").unwrap();
    let e = analyze_one(&junk, None, 1).unwrap_err();
    assert_eq!(e.name, junk.display().to_string());
    assert!(e.message.contains("not a CloudFront log"), "{e:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hostile_parquet_is_reported_naming_the_file() {
    let dir = scratch("parquet");
    let whole = std::fs::read(fixture("v2.parquet")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("half.parquet", whole[..whole.len() / 2].to_vec()),
        ("no-footer.parquet", whole[..whole.len() - 3].to_vec()),
        ("magic-only.parquet", b"PAR1".to_vec()),
        ("bad-magic.parquet", [b"PAR1".as_slice(), &[0u8; 64], b"PAR2"].concat()),
        ("garbage-footer.parquet", [&whole[..whole.len() - 8], &[0xff, 0xff, 0, 0], b"PAR1".as_slice()].concat()),
        ("garbage-pages.parquet", {
            let mut b = whole.clone();
            for x in b.iter_mut().skip(4).take(4000) {
                *x ^= 0x5a;
            }
            b
        }),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let report = analyze_one(&path, None, 2).unwrap();
        let truncated = report["truncated"].as_array().unwrap();
        assert_eq!(truncated.len(), 1, "{name}: {report:#}");
        assert_eq!(truncated[0]["file"], path.display().to_string());
        assert!(truncated[0]["message"].as_str().unwrap().starts_with("Parquet: "), "{name}: {report:#}");
    }
    // A gzip'd Parquet file cannot be read in place: say so.
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&whole).unwrap();
    let path = dir.join("v2.parquet.gz");
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let e = analyze_one(&path, None, 1).unwrap_err();
    assert!(e.message.contains("Parquet") && e.hint.unwrap().contains("decompress"), "{}", e.message);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn huge_and_invalid_json_lines_are_counted_and_the_rest_is_read() {
    let dir = scratch("json");
    let good = std::fs::read(fixture("v2.json")).unwrap();
    let lines: Vec<&[u8]> = good.split_inclusive(|b| *b == b'\n').collect();
    let mut text = Vec::new();
    text.extend_from_slice(lines[0]);
    // A 12 MiB line: longer than any block, cut and reported, not a panic or an allocation spiral.
    text.extend_from_slice(b"{\"cs-uri-stem\":\"");
    text.extend(std::iter::repeat_n(b'a', 12 << 20));
    text.extend_from_slice(b"\"}\n");
    // Invalid UTF-8 inside a value, and a line that is not JSON at all.
    let agent = lines[1].windows(7).position(|w| w == b"Mozilla").unwrap();
    text.extend_from_slice(&lines[1][..agent]);
    text.extend_from_slice(b"\xff\xfe");
    text.extend_from_slice(&lines[1][agent..]);
    text.extend_from_slice(b"{\"date\": [1, 2]}\n");
    text.extend_from_slice(b"not json\n");
    for l in &lines[2..] {
        text.extend_from_slice(l);
    }
    let path = dir.join("hostile.json");
    std::fs::write(&path, &text).unwrap();
    let report = analyze_one(&path, None, 2).unwrap();
    // The first and 118 further records, and the one with invalid bytes (replaced, still read).
    assert_eq!(report["lines"], 120, "{report:#}");
    assert!(report["bad_lines"].as_u64().unwrap() >= 3, "{report:#}");
    let first = &report["first_bad"][0];
    assert_eq!(first["file"], path.display().to_string());
    assert!(first["message"].as_str().unwrap().starts_with("v2 json record: "), "{report:#}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn invalid_utf8_and_short_records_in_delimited_formats_are_counted() {
    let dir = scratch("plain");
    let mut text = std::fs::read(fixture("realtime.log")).unwrap();
    text.splice(0..0, b"1731618000.000\t\xff\xfe\t200\n".iter().copied());
    let path = dir.join("realtime-bad.log");
    std::fs::write(&path, &text).unwrap();
    let report = analyze_one(&path, Some(realtime()), 2).unwrap();
    assert_eq!(report["lines"], 120);
    assert_eq!(report["bad_lines"], 1);
    let message = report["first_bad"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("real-time record: expected 18 tab-separated fields, found 3"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}
