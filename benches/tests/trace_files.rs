//! Reading trace files: format and compression from the name, overrides, and clear errors for
//! missing, corrupt, truncated and malformed files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use benches::trace::{Format, Location, ParseError, TraceError, TraceErrorKind, read_trace};

/// A fresh, empty directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("trace_files")
        .join(test);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = xz2::write::XzEncoder::new(Vec::new(), 6);
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn big_endian(keys: &[i32]) -> Vec<u8> {
    keys.iter().flat_map(|key| key.to_be_bytes()).collect()
}

/// The error, checked to name the file in its message.
fn error(path: &Path, format: Option<Format>) -> TraceError {
    let err = read_trace(path, format).expect_err("the trace should not parse");
    assert_eq!(err.path, path);
    let message = err.to_string();
    assert!(message.contains(&*path.to_string_lossy()), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    err
}

#[test]
fn reads_every_format_and_compression() {
    let dir = scratch("every_format");
    let arc = b"10 3 0 0\n20 1 0 1\n";
    let arc_keys = [10, 11, 12, 20];
    let lirs = b"1\n*\n2\r\n\n3\n";
    let binary = big_endian(&[7, -1, 65536]);
    let binary_keys = [7, u64::MAX, 65536];
    let cases: [(&str, Vec<u8>, &[u64]); 7] = [
        ("a.lis", arc.to_vec(), &arc_keys),
        ("a.lis.zst", zstd(arc), &arc_keys),
        ("l.trace.gz", gzip(lirs), &[1, 2, 3]),
        ("l.trace", lirs.to_vec(), &[1, 2, 3]),
        ("c.trace.xz", xz(&binary), &binary_keys),
        ("c.trace", binary.clone(), &binary_keys),
        ("c2.trace.zst", zstd(&binary), &binary_keys),
    ];
    for (name, bytes, keys) in cases {
        let path = write(&dir, name, &bytes);
        assert_eq!(read_trace(&path, None).unwrap(), keys, "{name}");
    }
}

#[test]
fn format_flag_overrides_the_name() {
    let dir = scratch("override");
    let path = write(&dir, "keys.txt", b"5\n6\n");
    let err = error(&path, None);
    assert!(matches!(err.kind, TraceErrorKind::UnknownFormat), "{err}");
    assert!(err.to_string().contains("--format"), "{err}");
    assert_eq!(read_trace(&path, Some(Format::Lirs)).unwrap(), [5, 6]);

    // A LIRS file read as ARC fails on its first line.
    let path = write(&dir, "l.trace.gz", &gzip(b"5\n6\n"));
    let err = error(&path, Some(Format::Arc));
    assert!(
        matches!(
            err.kind,
            TraceErrorKind::Parse(ParseError::BadLine { line: 1, .. })
        ),
        "{err}"
    );
}

#[test]
fn missing_file_is_named() {
    let path = scratch("missing").join("nope.trace.gz");
    let err = error(&path, None);
    assert!(matches!(err.kind, TraceErrorKind::Open(_)), "{err}");
    assert!(err.to_string().contains("--trace"), "{err}");
}

#[test]
fn corrupt_gzip_is_reported() {
    let dir = scratch("corrupt_gzip");
    let path = write(&dir, "garbage.trace.gz", b"this is not gzip data at all\n");
    let err = error(&path, None);
    assert!(
        matches!(err.kind, TraceErrorKind::Parse(ParseError::Io { .. })),
        "{err}"
    );

    // A valid stream cut in half: the error says how far the parse got.
    let text: String = (0..20_000)
        .map(|key| format!("{}\n", key * 7919 % 100_003))
        .collect();
    let full = gzip(text.as_bytes());
    let path = write(&dir, "cut.trace.gz", &full[..full.len() / 2]);
    let err = error(&path, None);
    match &err.kind {
        TraceErrorKind::Parse(ParseError::Io {
            at: Location::Line(line),
            ..
        }) => assert!(*line > 1, "{err}"),
        _ => panic!("expected a read error, got {err}"),
    }
    assert!(err.to_string().contains("line "), "{err}");

    // A flipped byte in the compressed body fails the stream or its checksum.
    let mut flipped = full.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let path = write(&dir, "flipped.trace.gz", &flipped);
    error(&path, None);
}

#[test]
fn truncated_zstd_and_xz_are_reported() {
    let dir = scratch("truncated_streams");
    let text: String = (0..20_000).map(|i| format!("{i} 1 0 {i}\n")).collect();
    let full = zstd(text.as_bytes());
    let path = write(&dir, "cut.lis.zst", &full[..full.len() - 7]);
    let err = error(&path, None);
    assert!(
        matches!(err.kind, TraceErrorKind::Parse(ParseError::Io { .. })),
        "{err}"
    );

    let keys: Vec<i32> = (0..50_000).map(|i| i * 31 % 9973).collect();
    let full = xz(&big_endian(&keys));
    let path = write(&dir, "cut.trace.xz", &full[..full.len() / 2]);
    let err = error(&path, None);
    assert!(
        matches!(
            err.kind,
            TraceErrorKind::Parse(ParseError::Io {
                at: Location::Offset(_),
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("byte offset"), "{err}");
}

#[test]
fn bad_line_is_named() {
    let dir = scratch("bad_line");
    let path = write(&dir, "l.trace.gz", &gzip(b"1\n*\nkey-3\n4\n"));
    let err = error(&path, None);
    assert!(
        matches!(&err.kind, TraceErrorKind::Parse(ParseError::BadLine { line: 3, content, .. }) if content == "key-3"),
        "{err}"
    );
    assert!(err.to_string().contains("line 3"), "{err}");

    let path = write(&dir, "a.lis.zst", &zstd(b"1 1 0 0\n2 two 0 1\n"));
    let err = error(&path, None);
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn truncated_record_is_named() {
    let dir = scratch("truncated_record");
    let mut bytes = big_endian(&[1, 2, 3]);
    bytes.push(0);
    let path = write(&dir, "c.trace.xz", &xz(&bytes));
    let err = error(&path, None);
    assert!(
        matches!(
            err.kind,
            TraceErrorKind::Parse(ParseError::Truncated {
                offset: 12,
                trailing: 1
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("byte offset 12"), "{err}");
}

#[test]
fn empty_trace_is_an_error() {
    let dir = scratch("empty");
    let path = write(&dir, "e.trace.gz", &gzip(b"*\n\n"));
    let err = error(&path, None);
    assert!(matches!(err.kind, TraceErrorKind::Empty), "{err}");
}
