//! Cache-trace readers: ARC `.lis`, LIRS text and cache2k binary, plain or compressed.
//!
//! Every format becomes a `Vec<u64>` of keys in request order, so a trace is parsed once and
//! replayed many times. The formats (see `../shared/data/README.md`):
//!
//! - **ARC** (`.lis`, usually `.lis.zst`): each line `start count ignore reqno` requests the
//!   `count` keys `start, start+1, …, start+count-1`.
//! - **LIRS** (`.trace.gz`): one integer key per line; a line `*` (a checkpoint marker) and
//!   blank lines are skipped.
//! - **cache2k** (`.trace.xz`): big-endian signed 32-bit keys, back to back.
//!
//! The compression comes from the last extension (`.zst`, `.gz`, `.xz`, or none); the format
//! from the name ([`name_hint`]) unless the caller overrides it. An uncompressed `.trace` file
//! may be LIRS text or cache2k binary; [`sniff_format`] tells them apart from the first bytes.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The most keys one ARC line may expand to; a larger count means a corrupt or misread file.
pub const MAX_ARC_RUN: u64 = 1 << 24;

/// Read buffer size for files and decoders.
const BUF_SIZE: usize = 1 << 16;

/// A trace format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// ARC `.lis`: lines `start count ignore reqno`, each requesting keys `start..start+count`.
    Arc,
    /// LIRS text: one integer key per line; `*` and blank lines are skipped.
    Lirs,
    /// cache2k binary: big-endian signed 32-bit keys.
    Cache2k,
}

impl Format {
    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Arc => "arc",
            Format::Lirs => "lirs",
            Format::Cache2k => "cache2k",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a trace file is compressed, from its last extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No known compression extension: read as is.
    None,
    /// `.gz`
    Gzip,
    /// `.zst` or `.zstd`
    Zstd,
    /// `.xz`
    Xz,
}

impl Compression {
    /// The compression a file name implies.
    pub fn from_path(path: &Path) -> Compression {
        split_name(path).1
    }
}

/// What a file name says about the trace format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameHint {
    /// The name settles it.
    Format(Format),
    /// An uncompressed (or zstd) `.trace`: LIRS text or cache2k binary; see [`sniff_format`].
    TextOrBinary,
    /// No known extension.
    Unknown,
}

/// The lowercased file name without its compression extension, and that compression.
fn split_name(path: &Path) -> (String, Compression) {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    for (suffix, compression) in [
        (".zst", Compression::Zstd),
        (".zstd", Compression::Zstd),
        (".gz", Compression::Gzip),
        (".xz", Compression::Xz),
    ] {
        if let Some(stem) = name.strip_suffix(suffix) {
            return (stem.to_owned(), compression);
        }
    }
    (name, Compression::None)
}

/// The format a file name implies: `.lis[.zst]` is ARC, `.trace.gz` LIRS, `.trace.xz` cache2k.
pub fn name_hint(path: &Path) -> NameHint {
    let (stem, compression) = split_name(path);
    if stem.ends_with(".lis") {
        NameHint::Format(Format::Arc)
    } else if stem.ends_with(".trace") {
        match compression {
            Compression::Gzip => NameHint::Format(Format::Lirs),
            Compression::Xz => NameHint::Format(Format::Cache2k),
            Compression::None | Compression::Zstd => NameHint::TextOrBinary,
        }
    } else {
        NameHint::Unknown
    }
}

/// LIRS if the first (decompressed) bytes look like text, else cache2k.
///
/// Text is printable ASCII and whitespace; binary keys almost always hold a byte outside that
/// set (a zero byte, for any key below 2^24). A text trace with a malformed line is still
/// text, so its error names the line.
pub fn sniff_format(head: &[u8]) -> Format {
    let text = head
        .iter()
        .all(|&byte| byte.is_ascii_graphic() || byte.is_ascii_whitespace());
    if text { Format::Lirs } else { Format::Cache2k }
}

/// Where in the decompressed input something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// A 1-based line of a text trace.
    Line(u64),
    /// A byte offset into a binary trace.
    Offset(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(line) => write!(f, "line {line}"),
            Location::Offset(offset) => write!(f, "byte offset {offset}"),
        }
    }
}

/// Why trace content could not be parsed.
#[derive(Debug)]
pub enum ParseError {
    /// Reading or decompressing failed (corrupt or truncated compressed data, I/O error).
    Io {
        /// How far parsing got.
        at: Location,
        /// The reader's error.
        source: io::Error,
    },
    /// A text line is not what the format expects.
    BadLine {
        /// The 1-based line number.
        line: u64,
        /// The line, shortened if long.
        content: String,
        /// What the line should have been.
        expected: &'static str,
    },
    /// A binary trace ends inside a 4-byte record.
    Truncated {
        /// Offset of the incomplete record.
        offset: u64,
        /// How many bytes of it there are (1 to 3).
        trailing: usize,
    },
}

impl ParseError {
    /// Where the error is.
    pub fn location(&self) -> Location {
        match self {
            ParseError::Io { at, .. } => *at,
            ParseError::BadLine { line, .. } => Location::Line(*line),
            ParseError::Truncated { offset, .. } => Location::Offset(*offset),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Io { at, source } => {
                write!(
                    f,
                    "corrupt or unreadable data at {at} (after decompression): {source}"
                )
            }
            ParseError::BadLine {
                line,
                content,
                expected,
            } => write!(f, "line {line}: expected {expected}, found `{content}`"),
            ParseError::Truncated { offset, trailing } => write!(
                f,
                "truncated record at byte offset {offset}: {trailing} trailing byte(s), \
                 not a whole 4-byte key"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// A trace file that could not be read, with the file's path.
#[derive(Debug)]
pub struct TraceError {
    /// The trace file.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: TraceErrorKind,
}

/// What went wrong with a trace file.
#[derive(Debug)]
pub enum TraceErrorKind {
    /// The file could not be opened.
    Open(io::Error),
    /// The name does not say which format the file is in.
    UnknownFormat,
    /// The content is corrupt or not in the expected format.
    Parse(ParseError),
    /// The file parsed but holds no requests.
    Empty,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            TraceErrorKind::Open(err) => {
                write!(
                    f,
                    "cannot open trace {path}: {err}; check the path given to --trace"
                )
            }
            TraceErrorKind::UnknownFormat => write!(
                f,
                "cannot tell the format of trace {path} from its name; name it *.lis[.zst], \
                 *.trace.gz or *.trace.xz, or pass --format arc|lirs|cache2k"
            ),
            TraceErrorKind::Parse(err @ ParseError::Io { .. }) => write!(
                f,
                "trace {path}: {err}; re-fetch the file, or check its compression extension"
            ),
            TraceErrorKind::Parse(err) => write!(
                f,
                "trace {path}: {err}; fix the file, or pass the right --format arc|lirs|cache2k"
            ),
            TraceErrorKind::Empty => write!(
                f,
                "trace {path} holds no requests; check the file, or pass the right --format"
            ),
        }
    }
}

impl std::error::Error for TraceError {}

/// Reads a whole trace file into its keys.
///
/// The compression comes from the name; so does the format unless `format` overrides it.
pub fn read_trace(path: &Path, format: Option<Format>) -> Result<Vec<u64>, TraceError> {
    let fail = |kind| TraceError {
        path: path.to_path_buf(),
        kind,
    };
    let hint = format.map_or_else(|| name_hint(path), NameHint::Format);
    let file = File::open(path).map_err(|err| fail(TraceErrorKind::Open(err)))?;
    if hint == NameHint::Unknown {
        return Err(fail(TraceErrorKind::UnknownFormat));
    }
    let start_error = |source| {
        fail(TraceErrorKind::Parse(ParseError::Io {
            at: Location::Offset(0),
            source,
        }))
    };
    let mut reader = decoder(file, Compression::from_path(path)).map_err(start_error)?;
    let format = match hint {
        NameHint::Format(format) => format,
        _ => sniff_format(reader.fill_buf().map_err(start_error)?),
    };
    let keys = parse(format, reader).map_err(|err| fail(TraceErrorKind::Parse(err)))?;
    if keys.is_empty() {
        return Err(fail(TraceErrorKind::Empty));
    }
    Ok(keys)
}

/// A buffered reader of the decompressed content of `file`.
fn decoder(file: File, compression: Compression) -> io::Result<Box<dyn BufRead>> {
    let file = BufReader::with_capacity(BUF_SIZE, file);
    Ok(match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            flate2::bufread::MultiGzDecoder::new(file),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            zstd::stream::read::Decoder::with_buffer(file)?,
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            xz2::bufread::XzDecoder::new(file),
        )),
    })
}

/// Parses decompressed trace content in the given format.
pub fn parse(format: Format, reader: impl BufRead) -> Result<Vec<u64>, ParseError> {
    match format {
        Format::Arc => parse_arc(reader),
        Format::Lirs => parse_lirs(reader),
        Format::Cache2k => parse_cache2k(reader),
    }
}

/// Parses ARC `.lis` text: each line `start count ignore reqno` requests keys
/// `start..start+count`. Blank lines are skipped.
pub fn parse_arc(reader: impl BufRead) -> Result<Vec<u64>, ParseError> {
    const EXPECTED: &str = "four integers `start count ignore reqno` (ARC format)";
    let mut keys = Vec::new();
    for_each_line(reader, |line, text| {
        if text.is_empty() {
            return Ok(());
        }
        let bad = |expected| bad_line(line, text, expected);
        let text = std::str::from_utf8(text).map_err(|_| bad(EXPECTED))?;
        let mut fields = text.split_ascii_whitespace();
        let mut next_field = || fields.next().ok_or_else(|| bad(EXPECTED));
        let start: u64 = next_field()?.parse().map_err(|_| bad(EXPECTED))?;
        let count: u64 = next_field()?.parse().map_err(|_| bad(EXPECTED))?;
        for _ in 0..2 {
            next_field()?.parse::<i64>().map_err(|_| bad(EXPECTED))?;
        }
        if fields.next().is_some() {
            return Err(bad(EXPECTED));
        }
        if count > MAX_ARC_RUN {
            return Err(bad("a count of at most 16777216 (ARC format)"));
        }
        let end = start
            .checked_add(count)
            .ok_or_else(|| bad("start + count below 2^64 (ARC format)"))?;
        keys.extend(start..end);
        Ok(())
    })?;
    Ok(keys)
}

/// Parses LIRS text: one integer key per line; lines `*` and blank lines are skipped.
/// Negative keys are kept, as their two's-complement bit pattern.
pub fn parse_lirs(reader: impl BufRead) -> Result<Vec<u64>, ParseError> {
    const EXPECTED: &str = "one integer key per line (LIRS format)";
    let mut keys = Vec::new();
    for_each_line(reader, |line, text| {
        if text.is_empty() || text == b"*" {
            return Ok(());
        }
        let key = std::str::from_utf8(text).ok().and_then(|text| {
            text.parse::<u64>()
                .ok()
                .or_else(|| text.parse::<i64>().ok().map(|key| key as u64))
        });
        keys.push(key.ok_or_else(|| bad_line(line, text, EXPECTED))?);
        Ok(())
    })?;
    Ok(keys)
}

/// Parses cache2k binary: big-endian signed 32-bit keys, each sign-extended to 64 bits.
pub fn parse_cache2k(mut reader: impl Read) -> Result<Vec<u64>, ParseError> {
    let mut keys = Vec::new();
    let mut buf = vec![0u8; BUF_SIZE];
    // `buf[..filled]` holds bytes read but not yet decoded; `offset` is where they start.
    let mut filled = 0;
    let mut offset = 0u64;
    loop {
        let read = match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ParseError::Io {
                    at: Location::Offset(offset + filled as u64),
                    source,
                });
            }
        };
        filled += read;
        let whole = filled / 4 * 4;
        keys.extend(
            buf[..whole]
                .chunks_exact(4)
                .map(|b| i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])) as u64),
        );
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        offset += whole as u64;
    }
    if filled != 0 {
        return Err(ParseError::Truncated {
            offset,
            trailing: filled,
        });
    }
    Ok(keys)
}

/// Calls `on_line(line_number, trimmed_line)` for each line; read errors name the line reached.
fn for_each_line(
    mut reader: impl BufRead,
    mut on_line: impl FnMut(u64, &[u8]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut buf = Vec::with_capacity(64);
    let mut line = 0u64;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(source) => {
                return Err(ParseError::Io {
                    at: Location::Line(line + 1),
                    source,
                });
            }
        }
        line += 1;
        on_line(line, buf.trim_ascii())?;
    }
}

fn bad_line(line: u64, text: &[u8], expected: &'static str) -> ParseError {
    const MAX_CHARS: usize = 40;
    let text = String::from_utf8_lossy(text);
    let content = match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    };
    ParseError::BadLine {
        line,
        content,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arc(text: &str) -> Result<Vec<u64>, ParseError> {
        parse_arc(text.as_bytes())
    }

    fn lirs(text: &str) -> Result<Vec<u64>, ParseError> {
        parse_lirs(text.as_bytes())
    }

    #[test]
    fn arc_lines_expand_to_runs() {
        let keys = arc("5 3 0 0\n\n1 1 0 1\r\n  9 0 0 2  \n7 2 0 3").unwrap();
        assert_eq!(keys, [5, 6, 7, 1, 7, 8]);
    }

    #[test]
    fn arc_rejects_malformed_lines() {
        for (text, line) in [
            ("1 1 0 0\n1 1 0\n", 2),
            ("1 1 0 0 9\n", 1),
            ("1 1 0 0\n\nx 1 0 0\n", 3),
            ("-1 1 0 0\n", 1),
            ("1 99999999999 0 0\n", 1),
            ("18446744073709551615 2 0 0\n", 1),
        ] {
            match arc(text) {
                Err(ParseError::BadLine { line: got, .. }) => assert_eq!(got, line, "{text:?}"),
                other => panic!("{text:?}: expected a bad line, got {other:?}"),
            }
        }
    }

    #[test]
    fn lirs_skips_markers_and_blank_lines() {
        let keys = lirs("3\r\n*\n\n  4 \n*\n-1\n18446744073709551615\n5").unwrap();
        assert_eq!(keys, [3, 4, u64::MAX, u64::MAX, 5]);
    }

    #[test]
    fn lirs_names_the_bad_line() {
        let err = lirs("1\n2\n*\n3x\n").unwrap_err();
        assert!(matches!(&err, ParseError::BadLine { line: 4, content, .. } if content == "3x"));
        assert_eq!(err.location(), Location::Line(4));
        assert!(err.to_string().contains("line 4"), "{err}");
        assert!(lirs("1 2\n").is_err());
        assert!(lirs("1.5\n").is_err());
        let long = format!("{}\n", "x".repeat(100));
        let err = lirs(&long).unwrap_err().to_string();
        assert!(err.len() < 150, "long lines are shortened: {err}");
    }

    #[test]
    fn cache2k_reads_big_endian_i32() {
        let mut bytes = Vec::new();
        for key in [1i32, -1, 0x0102_0304, i32::MIN] {
            bytes.extend_from_slice(&key.to_be_bytes());
        }
        let keys = parse_cache2k(bytes.as_slice()).unwrap();
        assert_eq!(keys, [1, u64::MAX, 0x0102_0304, i64::from(i32::MIN) as u64]);
    }

    #[test]
    fn cache2k_reports_a_truncated_record() {
        let bytes = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0];
        match parse_cache2k(bytes.as_slice()) {
            Err(ParseError::Truncated {
                offset: 8,
                trailing: 2,
            }) => {}
            other => panic!("expected a truncated record, got {other:?}"),
        }
    }

    #[test]
    fn cache2k_reassembles_records_split_across_reads() {
        // A reader returning one byte at a time splits every record.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((&first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = first;
                self.0 = rest;
                Ok(1)
            }
        }
        let bytes = [0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe];
        assert_eq!(parse_cache2k(OneByte(&bytes)).unwrap(), [256, -2i64 as u64]);
    }

    #[test]
    fn names_imply_format_and_compression() {
        let cases = [
            (
                "OLTP.lis.zst",
                NameHint::Format(Format::Arc),
                Compression::Zstd,
            ),
            ("P1.LIS", NameHint::Format(Format::Arc), Compression::None),
            (
                "lirs-loop.trace.gz",
                NameHint::Format(Format::Lirs),
                Compression::Gzip,
            ),
            (
                "web07.trace.xz",
                NameHint::Format(Format::Cache2k),
                Compression::Xz,
            ),
            ("x.trace", NameHint::TextOrBinary, Compression::None),
            ("x.trace.zst", NameHint::TextOrBinary, Compression::Zstd),
            ("x.csv.gz", NameHint::Unknown, Compression::Gzip),
            ("trace", NameHint::Unknown, Compression::None),
        ];
        for (name, hint, compression) in cases {
            let path = Path::new("/data").join(name);
            assert_eq!(name_hint(&path), hint, "{name}");
            assert_eq!(Compression::from_path(&path), compression, "{name}");
        }
    }

    #[test]
    fn sniffing_tells_text_from_binary() {
        assert_eq!(sniff_format(b"1\r\n2\n*\n-3\n"), Format::Lirs);
        assert_eq!(sniff_format(b"1\nthree\n"), Format::Lirs);
        assert_eq!(sniff_format(b""), Format::Lirs);
        assert_eq!(sniff_format(&[0, 0, 0, 1, 0, 0, 0, 2]), Format::Cache2k);
    }
}
